"""JSON Schema -> the schema dialects Gemini accepts: the OpenAPI subset (`parameters`) and `responseJsonSchema`.

One unknown keyword fails the whole request upstream (`Invalid JSON payload received. Unknown name ...`), so
both converters keep only what Google documents and rewrite what they can:
  * function `parameters` (Schema, an OpenAPI 3.0 subset): `$ref` to local `$defs`/`definitions` inlined
    (a cycle becomes a bare object), `allOf` merged, `oneOf` -> `anyOf`, `const` -> `enum`, a type list with
    "null" -> `nullable`, other type lists -> `anyOf`; `enum` must be strings, so a non-string enum moves into
    the description; `format` kept only where Gemini takes it (enum/date-time, float/double, int32/int64);
    `required` kept only for declared properties; everything else (additionalProperties, $schema, strict,
    examples, exclusive bounds...) left out.
  * `responseJsonSchema` (JSON Schema): the documented keyword set is kept as is, `definitions` is renamed
    `$defs`, `const` -> `enum`; everything else left out.
"""
from typing import Any

_OPENAPI_KEYS = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
                 "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern",
                 "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
_FORMATS = {"string": {"enum", "date-time"}, "number": {"float", "double"}, "integer": {"int32", "int64"}}
_JSON_SCHEMA_KEYS = {"$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum", "items",
                     "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf", "properties",
                     "additionalProperties", "required", "propertyOrdering"}
_MAX_DEPTH = 32


def to_openapi(schema: Any) -> dict:
    """A JSON Schema (OpenAI tool parameters) as Gemini's OpenAPI-subset Schema."""
    if not isinstance(schema, dict):
        return {}
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _openapi(schema, defs, (), 0)


def _resolve(node: dict, defs: dict, seen: tuple) -> tuple[dict | None, tuple]:
    ref = node["$ref"]
    name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None
    if not isinstance(ref, str) or not ref.startswith(("#/$defs/", "#/definitions/")) or name not in defs \
            or name in seen:
        return None, seen
    merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
    return merged, seen + (name,)


def _openapi(node: Any, defs: dict, seen: tuple, depth: int) -> dict:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return {"type": "object"}
    if "$ref" in node:
        resolved, seen = _resolve(node, defs, seen)
        if resolved is None:
            return {"type": "object", **({"description": node["description"]} if "description" in node else {})}
        node = resolved
    if isinstance(node.get("allOf"), list):
        node = _merge_all_of(node, defs, seen, depth)
    out: dict = {}
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) < len(kind):
            out["nullable"] = True
        if len(kinds) == 1:
            kind = kinds[0]
        else:
            out["anyOf"] = [{"type": k} for k in kinds]
            kind = None
    if isinstance(kind, str):
        out["type"] = kind
    for key in ("title", "description", "nullable", "example", "default", "minItems", "maxItems", "minLength",
                "maxLength", "minProperties", "maxProperties", "minimum", "maximum", "pattern", "propertyOrdering"):
        if key in node and key in _OPENAPI_KEYS:
            out[key] = node[key]
    if "const" in node and "enum" not in node:
        node = {**node, "enum": [node["const"]]}
    enum = node.get("enum")
    if isinstance(enum, list):
        if all(isinstance(v, str) for v in enum):
            out["enum"] = list(enum)
        else:  # Gemini's enum is string[]: keep the constraint as words rather than break the type
            allowed = ", ".join(str(v) for v in enum)
            out["description"] = (out.get("description", "") + f" Allowed values: {allowed}.").strip()
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(out.get("type", ""), ()):
        out["format"] = fmt
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: _openapi(v, defs, seen, depth + 1) for k, v in node["properties"].items()}
        if isinstance(node.get("required"), list):
            req = [r for r in node["required"] if r in out["properties"]]
            if req:
                out["required"] = req
    items = node.get("items")
    if isinstance(items, dict):
        out["items"] = _openapi(items, defs, seen, depth + 1)
    elif isinstance(items, list) and items:
        out["items"] = {"anyOf": [_openapi(i, defs, seen, depth + 1) for i in items]}
    union = node.get("anyOf") if isinstance(node.get("anyOf"), list) else node.get("oneOf")
    if isinstance(union, list):
        variants = [v for v in union if not (isinstance(v, dict) and v.get("type") == "null")]
        if len(variants) < len(union):
            out["nullable"] = True
        converted = [_openapi(v, defs, seen, depth + 1) for v in variants]
        if len(converted) == 1 and "type" not in out:
            out.update({k: v for k, v in converted[0].items() if k not in out})
        elif converted:
            out["anyOf"] = converted
    if "type" not in out and "anyOf" not in out:
        if "enum" in out:
            out["type"] = "string"
        elif "properties" in out:
            out["type"] = "object"
        elif "items" in out:
            out["type"] = "array"
    return out


def _merge_all_of(node: dict, defs: dict, seen: tuple, depth: int) -> dict:
    merged = {k: v for k, v in node.items() if k != "allOf"}
    props = dict(merged.get("properties") or {})
    required = list(merged.get("required") or [])
    for part in node["allOf"]:
        if isinstance(part, dict) and "$ref" in part:
            part, _ = _resolve(part, defs, seen)
        if not isinstance(part, dict):
            continue
        props.update(part.get("properties") or {})
        required += [r for r in part.get("required") or [] if r not in required]
        for k, v in part.items():
            merged.setdefault(k, v)
    if props:
        merged["properties"] = props
        merged.setdefault("type", "object")
    if required:
        merged["required"] = required
    return merged


def to_json_schema(schema: Any, depth: int = 0) -> Any:
    """A JSON Schema trimmed to the keywords `responseJsonSchema` documents."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return schema
    node = dict(schema)
    if "definitions" in node:
        node["$defs"] = {**node.pop("definitions"), **(node.get("$defs") or {})}
    if "const" in node and "enum" not in node:
        node["enum"] = [node["const"]]
    out: dict = {}
    for key, value in node.items():
        if key not in _JSON_SCHEMA_KEYS:
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {k: to_json_schema(v, depth + 1) for k, v in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = to_json_schema(value, depth + 1)
        elif key in ("anyOf", "oneOf", "prefixItems") and isinstance(value, list):
            out[key] = [to_json_schema(v, depth + 1) for v in value]
        elif key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/definitions/", "#/$defs/")
        else:
            out[key] = value
    return out
