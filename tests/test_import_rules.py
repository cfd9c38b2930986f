"""House rule 7: models/ and schemas/ never import gateway/; providers/ import neither Flask, requests nor SQLAlchemy."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("folder, forbidden", [
    ("models", {"gateway"}),
    ("schemas", {"gateway"}),
    ("gateway/providers", {"flask", "requests", "sqlalchemy", "urllib3", "werkzeug"}),
])
def test_layer_imports(folder, forbidden):
    files = list((ROOT / folder).rglob("*.py"))
    assert files
    bad = {str(f.relative_to(ROOT)): sorted(_imports(f) & forbidden) for f in files if _imports(f) & forbidden}
    assert bad == {}


def test_every_module_has_a_docstring():
    missing = []
    for folder in ("gateway", "models", "schemas"):
        for f in (ROOT / folder).rglob("*.py"):
            if f.stat().st_size and ast.get_docstring(ast.parse(f.read_text())) is None:
                missing.append(str(f.relative_to(ROOT)))
    assert missing == []


def test_no_iter_lines_in_gateway():
    offenders = [str(f) for f in (ROOT / "gateway").rglob("*.py") if "iter_lines(" in f.read_text()]
    assert offenders == []
