"""Validates bodies we send clients against the official OpenAI OpenAPI description: the structural extract of it
committed in tests/support/openai_spec/ (see tests/support/openai_extract.py), so the checks need nothing beside
the repository."""
import functools
import json

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.openai_extract import EXTRACT_PATH


def _nullable_to_type(node):
    """OpenAPI 3.0's `nullable: true` (still used in places of the 3.1 file) -> JSON Schema's type null."""
    if isinstance(node, dict):
        if node.pop("nullable", False) is True:
            t = node.get("type")
            if isinstance(t, str):
                node["type"] = [t, "null"]
            elif isinstance(t, list) and "null" not in t:
                node["type"] = t + ["null"]
            if "enum" in node and None not in node["enum"]:
                node["enum"] = node["enum"] + [None]
            if "$ref" in node:
                node["anyOf"] = [{"$ref": node.pop("$ref")}, {"type": "null"}]
        for v in node.values():
            _nullable_to_type(v)
    elif isinstance(node, list):
        for v in node:
            _nullable_to_type(v)
    return node


@functools.lru_cache(maxsize=1)
def spec() -> dict:
    with open(EXTRACT_PATH, encoding="utf-8") as f:
        return _nullable_to_type(json.load(f))


@functools.lru_cache(maxsize=None)
def validator(schema_name: str) -> Draft202012Validator:
    doc = spec()
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openai", resource)
    return Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{schema_name}"}, registry=registry)


def assert_valid(body: dict, schema_name: str) -> None:
    """Raise AssertionError listing every way `body` breaks the named component schema."""
    errors = sorted(validator(schema_name).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"- {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:10]]
        raise AssertionError(f"body does not validate as {schema_name}:\n" + "\n".join(lines))
