"""OpenAI tools and tool_choice (and the legacy functions/function_call) -> Gemini tools and toolConfig."""
from gateway import exceptions as exc
from gateway.values import Target
from gateway.providers.gemini.schema import to_openapi

_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def _declaration(fn: dict) -> dict:
    decl = {"name": fn.get("name", "")}
    if fn.get("description"):
        decl["description"] = fn["description"]
    params = to_openapi(fn.get("parameters"))
    # Gemini rejects an OBJECT schema with no properties on some models: a parameter-less function has none.
    if params and not (params.get("type") == "object" and not params.get("properties")):
        decl["parameters"] = params
    return decl


def _functions(body: dict, target: Target) -> list[dict]:
    """The function definitions offered, from `tools` (or the legacy `functions`)."""
    fns = []
    for i, tool in enumerate(body.get("tools") or []):
        if tool.get("type") != "function":
            if target.drop_unsupported:
                continue
            raise exc.InvalidRequest(f"Gemini takes only function tools, not '{tool.get('type')}' tools.",
                                     param=f"tools[{i}].type")
        fns.append(tool.get("function") or {})
    for fn in body.get("functions") or []:
        if isinstance(fn, dict):
            fns.append(fn)
    return fns


def _choice(body: dict) -> tuple[object, str]:
    if body.get("tool_choice") is not None:
        return body["tool_choice"], "tool_choice"
    legacy = body.get("function_call")
    if isinstance(legacy, dict):
        return {"type": "function", "function": {"name": legacy.get("name")}}, "function_call"
    return legacy, "function_call"


def tools_and_config(body: dict, target: Target) -> tuple[list | None, dict | None]:
    """(tools, toolConfig) for the Gemini body; (None, None) when no function is offered."""
    fns = _functions(body, target)
    if not fns:
        return None, None
    if body.get("parallel_tool_calls") is False and not target.drop_unsupported:
        raise exc.InvalidRequest("Gemini cannot be told to call at most one function per turn.",
                                 param="parallel_tool_calls")
    choice, param = _choice(body)
    names = {fn.get("name") for fn in fns}
    config = None
    if isinstance(choice, str) and choice in _MODES:
        config = {"mode": _MODES[choice]}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if name not in names:
            raise exc.InvalidRequest(f"tool_choice names the function '{name}', which is not among the tools.",
                                     param=param)
        config = {"mode": "ANY", "allowedFunctionNames": [name]}
    elif isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        keep = [(t.get("function") or {}).get("name") or t.get("name") for t in allowed.get("tools") or []
                if isinstance(t, dict)]
        fns = [fn for fn in fns if fn.get("name") in keep]   # the model may only see the allowed ones
        config = {"mode": "ANY" if allowed.get("mode") == "required" else "AUTO"}
    elif choice is not None:
        if not target.drop_unsupported:
            raise exc.InvalidRequest("Gemini cannot take this tool_choice.", param=param)
    if not fns:
        return None, None
    return [{"functionDeclarations": [_declaration(fn) for fn in fns]}], (
        {"functionCallingConfig": config} if config else None)
