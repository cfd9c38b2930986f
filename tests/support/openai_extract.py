"""The structural extract of the official OpenAI OpenAPI description that the schema checks run on.

The official file (about 3 MB of YAML, MIT licensed) lives on the team's reference shelf, not in this repository.
The tests need only the component schemas the gateway's bodies must match, with their `$ref` closure, and only
the keywords that decide what validates. This module makes that extract, deterministically:

- roots: `ROOTS` below, and every component they reach through `$ref` (transitively);
- kept: every JSON Schema / OpenAPI keyword that constrains a value (`KEEP`: types, `required`, `enum`,
  `nullable`, `anyOf`/`oneOf`/`allOf`, `additionalProperties`, bounds, patterns, `discriminator`...);
- dropped: prose and annotations (`DROP`: `description`, `title`, `example(s)`, `default`, `deprecated`, and
  every `x-*` vendor extension);
- any other keyword is an error: a keyword the official file starts to use is looked at, never silently dropped
  (that could make the checks less strict than the source).

Run it (the output is committed, with the license and the source version beside it):

    .venv/bin/python -m tests.support.openai_extract ../shared/specs/openai-openapi.yaml
"""
import hashlib
import json
import os
import sys

import yaml

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openai_spec")
EXTRACT_PATH = os.path.join(HERE, "extract.json")
SOURCE_PATH = os.path.join(HERE, "SOURCE.md")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SOURCE = os.path.join(ROOT, "..", "shared", "specs", "openai-openapi.yaml")   # the team's shelf

# The bodies the gateway sends (and, for contract tests, the requests it takes).
ROOTS = (
    "CreateChatCompletionRequest", "CreateChatCompletionResponse", "CreateChatCompletionStreamResponse",
    "CreateResponse", "Response", "ResponseStreamEvent", "ResponseItemList",
    "CreateEmbeddingRequest", "CreateEmbeddingResponse",
    "ErrorResponse", "ListModelsResponse", "Model", "DeleteModelResponse",
)

# Keywords whose value is a schema, a list of schemas, or a map of name -> schema.
_SCHEMA = {"items", "additionalProperties", "not", "propertyNames", "contains", "if", "then", "else",
           "unevaluatedProperties", "unevaluatedItems", "additionalItems"}
_SCHEMA_LIST = {"anyOf", "oneOf", "allOf", "prefixItems"}
_SCHEMA_MAP = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
# Keywords kept as they are (their value is data, not a schema).
_VALUE = {"type", "$ref", "enum", "const", "required", "nullable", "format", "pattern", "minimum", "maximum",
          "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "minItems", "maxItems",
          "uniqueItems", "minProperties", "maxProperties", "discriminator", "$recursiveAnchor", "$recursiveRef",
          "$anchor", "$dynamicRef", "$dynamicAnchor", "dependentRequired", "readOnly", "writeOnly"}
KEEP = _SCHEMA | _SCHEMA_LIST | _SCHEMA_MAP | _VALUE
DROP = {"description", "title", "example", "examples", "default", "deprecated", "$comment", "externalDocs"}


class UnknownKeyword(ValueError):
    pass


def _strip(node, where: str):
    """A copy of schema `node` with only the kept keywords (recursively)."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise UnknownKeyword(f"{where}: a schema must be an object or a boolean, got {type(node).__name__}")
    out = {}
    for k, v in node.items():
        here = f"{where}/{k}"
        if k in DROP or k.startswith("x-"):
            continue
        if k not in KEEP:
            raise UnknownKeyword(f"{here}: keyword {k!r} is neither kept nor dropped; decide in openai_extract.py")
        if k in _SCHEMA:
            out[k] = _strip(v, here)
        elif k in _SCHEMA_LIST:
            out[k] = [_strip(s, f"{here}/{i}") for i, s in enumerate(v)]
        elif k in _SCHEMA_MAP:
            out[k] = {name: _strip(s, f"{here}/{name}") for name, s in v.items()}
        else:
            out[k] = v
    return out


def _refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for v in node.values():
            _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


def extract(doc: dict, roots=ROOTS) -> dict:
    """The extract document: `info` (title, version) and `components.schemas` for the closure of `roots`."""
    schemas = doc["components"]["schemas"]
    todo, seen = list(roots), set()
    out = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in schemas:
            raise KeyError(f"components/schemas/{name} is referenced but not in the source")
        out[name] = _strip(schemas[name], f"#/components/schemas/{name}")
        found: set[str] = set()
        _refs(out[name], found)
        todo.extend(sorted(found - seen))
    return {"openapi": doc.get("openapi"), "info": {"title": doc["info"]["title"], "version": doc["info"]["version"]},
            "components": {"schemas": dict(sorted(out.items()))}}


def render(extract_doc: dict) -> str:
    """The committed text: sorted keys, one level of indent per line, a final newline (stable diffs)."""
    return json.dumps(extract_doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def load_source(path: str) -> tuple[dict, str]:
    with open(path, "rb") as f:
        raw = f.read()
    return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), hashlib.sha256(raw).hexdigest()


def source_note(doc: dict, sha256: str, n_schemas: int) -> str:
    return (f"# Source of extract.json\n\n"
            f"- Source: the official OpenAI OpenAPI description, `{doc['info']['title']}` version "
            f"`{doc['info']['version']}` (OpenAPI {doc.get('openapi')}), published by OpenAI under the MIT license "
            f"(the notice is in `LICENSE` beside this file).\n"
            f"- Source file sha256: `{sha256}`\n"
            f"- Roots: {', '.join(f'`{r}`' for r in ROOTS)}; {n_schemas} component schemas with their `$ref` "
            f"closure.\n"
            f"- Kept: the keywords that decide what validates; dropped: prose, examples, defaults and `x-*` "
            f"extensions (see `tests/support/openai_extract.py`).\n"
            f"- Regenerate: `.venv/bin/python -m tests.support.openai_extract path/to/openai-openapi.yaml`; "
            f"`tests/test_openai_extract.py` fails when the committed extract differs from a fresh one.\n")


def main(argv: list[str]) -> int:
    source = argv[1] if len(argv) > 1 else DEFAULT_SOURCE
    doc, sha = load_source(source)
    ext = extract(doc)
    os.makedirs(HERE, exist_ok=True)
    with open(EXTRACT_PATH, "w", encoding="utf-8") as f:
        f.write(render(ext))
    with open(SOURCE_PATH, "w", encoding="utf-8") as f:
        f.write(source_note(doc, sha, len(ext["components"]["schemas"])))
    print(f"wrote {EXTRACT_PATH}: {len(ext['components']['schemas'])} schemas from {doc['info']['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
