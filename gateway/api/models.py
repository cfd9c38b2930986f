"""GET /v1/models and /v1/models/<id>: aliases and catalog models in the OpenAI list shape."""
from flask import Blueprint

from gateway import exceptions as exc
from gateway.api.common import authenticate, json_response
from gateway.services import services

bp = Blueprint("models", __name__)


def _entries() -> dict[str, dict]:
    snap = services().catalog.snapshot
    out: dict[str, dict] = {}
    for alias, route in sorted(snap.routes.items()):
        if not route.enabled or not route.targets:
            continue
        primary = route.targets[0].model.split("/", 1)[0]
        out[alias] = {"id": alias, "object": "model", "created": int(snap.loaded_at), "owned_by": f"route:{primary}"}
    for slug, model in sorted(snap.models.items()):
        provider = snap.providers.get(model.provider)
        if provider is None or not provider.enabled or not provider.api_key or model.retired:
            continue                       # only what this gateway can serve now
        out.setdefault(slug, {"id": slug, "object": "model", "created": model.created, "owned_by": model.provider})
    return out


@bp.get("/v1/models")
def list_models():
    authenticate()
    return json_response({"object": "list", "data": list(_entries().values())})


@bp.get("/v1/models/<path:model_id>")
def get_model(model_id: str):
    authenticate()
    entry = _entries().get(model_id)
    if entry is None:
        raise exc.NotFound(f"The model '{model_id}' does not exist.", param="model")
    return json_response(entry)
