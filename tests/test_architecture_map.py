"""docs/ARCHITECTURE.md is the map of the tree: every file it names in its layout exists, and every module of
gateway/ (top level) is on it."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
LAYOUT = DOC[DOC.index("## The layout"):DOC.index("## One request")]


def _entries() -> list[str]:
    """The layout's paths: each line's first word, joined to the folder it is indented under."""
    paths, stack = [], []
    for line in LAYOUT.splitlines():
        m = re.match(r"^( *)([A-Za-z0-9_./-]+\.(?:py|md|txt|yaml)|[A-Za-z0-9_.-]+/)(?=\s|$)", line)
        if not m:
            continue
        depth, name = len(m.group(1)) // 2, m.group(2)
        stack = stack[:depth]
        path = "/".join(stack + [name.rstrip("/")])
        paths.append(path)
        if name.endswith("/"):
            stack.append(name.rstrip("/"))
    return paths


def test_the_map_names_only_what_exists():
    entries = _entries()
    assert len(entries) > 40
    missing = [p for p in entries if not (ROOT / p).exists()]
    assert missing == []


def test_every_gateway_module_is_on_the_map():
    named = set(_entries())
    modules = {f"gateway/{p.name}" for p in (ROOT / "gateway").glob("*.py") if p.name != "__init__.py"}
    assert sorted(modules - named) == []
