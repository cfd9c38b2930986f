"""What a stored response keeps and gives back, as pure functions (the store itself is gateway/response_store.py).

- `input_items(input, response_id)`: a request's `input` (a string or items) as the items GET
  /v1/responses/{id}/input_items lists (the `ItemResource` shapes: every item with an `id` and a `status`;
  user/system/developer messages with input parts, assistant messages with output_text parts). An item the client
  sent without an id gets one minted from the response id (`minted`).
- `continued(context, input)`: the input of a request that names previous_response_id: the stored chain's items,
  then its own input. The ids we minted are left out (an upstream that checks item ids never saw them).
- `item_page(items, order, after, limit)`: one page of the list, as ResponseItemList.
"""
import copy

from gateway import exceptions as exc


def _mint(response_id: str, prefix: str, index: int) -> str:
    return f"{prefix}_{response_id.removeprefix('resp_')}i{index:04x}"


def minted(item: dict, response_id: str) -> bool:
    return isinstance(item.get("id"), str) and f"_{response_id.removeprefix('resp_')}i" in item["id"]


def _parts(content, output: bool) -> list:
    if isinstance(content, str):
        content = [{"type": "output_text" if output else "input_text", "text": content}]
    parts = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        part = dict(part)
        if part.get("type") == "output_text":
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
        parts.append(part)
    return parts


def input_items(value, response_id: str) -> list[dict]:
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": value}]
    out = []
    for i, raw in enumerate(value if isinstance(value, list) else []):
        if not isinstance(raw, dict):
            continue
        item = copy.deepcopy(raw)
        kind = item.get("type") or ("message" if "role" in item else None)
        item["type"] = kind
        if kind == "message":
            item["content"] = _parts(item.get("content"), output=item.get("role") == "assistant")
            prefix = "msg"
        else:
            prefix = {"function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}.get(kind, "item")
        if kind == "reasoning":
            item.setdefault("summary", [])
        else:
            item.setdefault("status", "completed")
        if not isinstance(item.get("id"), str) or not item["id"]:
            item["id"] = _mint(response_id, prefix, i)
        out.append(item)
    return out


def without_minted_ids(items: list[dict], response_id: str) -> list[dict]:
    out = []
    for item in items:
        if minted(item, response_id):
            item = {k: v for k, v in item.items() if k != "id"}
        out.append(item)
    return out


def continued(context: list[dict], value) -> list:
    """The input of a continuing request: the chain's items, then the request's own input."""
    own = [{"type": "message", "role": "user", "content": value}] if isinstance(value, str) else list(value or [])
    return list(context) + own


def item_page(items: list[dict], order: str | None = None, after: str | None = None,
              limit: str | int | None = None) -> dict:
    order = order or "desc"
    if order not in ("asc", "desc"):
        raise exc.InvalidRequest("order is 'asc' or 'desc'.", param="order")
    try:
        size = 20 if limit in (None, "") else int(limit)
    except (TypeError, ValueError):
        raise exc.InvalidRequest("limit is a whole number from 1 to 100.", param="limit") from None
    if not 1 <= size <= 100:
        raise exc.InvalidRequest("limit is a whole number from 1 to 100.", param="limit")
    ordered = list(items) if order == "asc" else list(reversed(items))
    if after:
        ids = [i.get("id") for i in ordered]
        if after not in ids:
            raise exc.InvalidRequest(f"No input item '{after}' in this response.", param="after")
        ordered = ordered[ids.index(after) + 1:]
    page = ordered[:size]
    return {"object": "list", "data": page, "has_more": len(ordered) > size,
            "first_id": page[0]["id"] if page else "", "last_id": page[-1]["id"] if page else ""}
