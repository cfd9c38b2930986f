"""Validates bodies we send clients against the official OpenAI OpenAPI description in ../shared/specs."""
import functools
import os
import pickle

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_PATH = os.environ.get("OPENAI_SPEC_PATH") or os.path.join(ROOT, "..", "shared", "specs", "openai-openapi.yaml")
TRANSFORM_VERSION = 2   # bump when _nullable_to_type changes, so the cached spec is rebuilt
CACHE = os.path.join(ROOT, ".pytest_cache", f"openai-openapi.v{TRANSFORM_VERSION}.pickle")


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
    mtime = os.path.getmtime(SPEC_PATH)
    if os.path.exists(CACHE):
        with open(CACHE, "rb") as f:
            cached_mtime, data = pickle.load(f)
        if cached_mtime == mtime:
            return data
    with open(SPEC_PATH, "rb") as f:
        data = _nullable_to_type(yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    os.makedirs(os.path.dirname(CACHE), exist_ok=True)
    with open(CACHE, "wb") as f:
        pickle.dump((mtime, data), f)
    return data


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
