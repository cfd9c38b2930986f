"""An OpenAI chat body -> the body one OpenAI-compatible upstream takes, following its variant.

Order: effort (effort.py) -> plain renames -> tool_choice and tools -> unsupported parameters (and, while the
model reasons, its sampling restrictions) -> the strict allow-list -> messages (messages.py) -> model and
stream. Everything the client sent that the variant does not touch goes upstream as it is. A parameter the
upstream cannot honour is a 400 naming it, or, when the route sets drop_unsupported, it is not sent.
"""
from gateway.values import Target
from gateway.providers.openai import effort, messages
from gateway.providers.base import refuse

GATEWAY_FIELDS = ("reasoning",)     # read by the gateway (reasoning.effort); the effort arrives via effort.py


def build_body(body: dict, target: Target, variant, stream: bool) -> dict:
    drop = target.drop_unsupported
    out = dict(body)
    fields, level = effort.resolve(body, target, variant, drop)
    out.pop("reasoning_effort", None)
    if not variant.passes_reasoning:
        for name in GATEWAY_FIELDS:
            out.pop(name, None)
    _renames(out, variant.renames(target))
    _tools(out, variant, drop)
    _unsupported(out, variant.unsupported, drop, variant.title + " does not support '{}'.")
    if variant.sampling and level != "none" and variant.reasons(target):
        _unsupported(out, variant.sampling(target), drop,
                     f"{variant.title} reasoning models do not support '{{}}' (unless reasoning effort is none).")
    out.update(fields)
    if variant.allowed is not None:
        _allow_list(out, variant, drop)
    if isinstance(body.get("messages"), list):
        out["messages"] = messages.convert(body["messages"], variant, drop)
    out["model"] = target.upstream_model
    if stream:
        out["stream"] = True
        if variant.stream_usage:
            # usage must be known at the end of every stream: ask for it even when the client did not
            out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        else:
            out.pop("stream_options", None)
    return out


def _renames(out: dict, renames) -> None:
    for name, upstream in renames.items():
        if name not in out:
            continue
        value = out.pop(name)
        if out.get(upstream) is not None and value is not None and out[upstream] != value:
            refuse(False, f"'{name}' and '{upstream}' say different things; send one of them.", name)
        if value is not None and out.get(upstream) is None:
            out[upstream] = value


def _tools(out: dict, variant, drop: bool) -> None:
    choice = out.get("tool_choice")
    if isinstance(choice, str) and choice in variant.tool_choice:
        out["tool_choice"] = variant.tool_choice[choice]
    types = variant.tool_types
    if types is None:
        return
    if isinstance(choice, dict) and choice.get("type") not in types:
        refuse(drop, f"{variant.title} takes tool_choice auto, none, required or one named function.",
               "tool_choice")
        del out["tool_choice"]
    if isinstance(out.get("tools"), list):
        kept = []
        for k, tool in enumerate(out["tools"]):
            if isinstance(tool, dict) and tool.get("type") not in types:
                refuse(drop, f"{variant.title} takes only function tools.", f"tools[{k}].type")
                continue
            kept.append(tool)
        out["tools"] = kept


def _unsupported(out: dict, table, drop: bool, message: str) -> None:
    """Fields of `table` are never sent; one whose value asks for something is a 400 (a neutral value is not)."""
    for name, asks in table.items():
        if name in out and asks(out.pop(name)):
            refuse(drop, message.format(name), name)


def _allow_list(out: dict, variant, drop: bool) -> None:
    for name in [name for name in out if name not in variant.allowed]:
        value = out.pop(name)
        no_effect = variant.no_effect.get(name)
        if value is None or (no_effect is not None and no_effect(value)):
            continue
        refuse(drop, f"{variant.title} does not take the parameter '{name}' (it rejects unknown parameters).", name)
