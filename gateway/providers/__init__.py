"""Provider adapters: pure translation between the OpenAI shape and each wire protocol."""
import importlib

from gateway.providers.base import Adapter

# wire type -> "module:Class"; imported on first use so each protocol lives in its own module or package.
_REGISTRY = {
    "openai": "gateway.providers.openai:OpenAIAdapter",
    "anthropic": "gateway.providers.anthropic:AnthropicAdapter",
    "gemini": "gateway.providers.gemini:GeminiAdapter",
    # the provider's own Responses API, for targets served natively on /v1/responses
    "openai+responses": "gateway.providers.openai.responses_api:ResponsesAPIAdapter",
}
_LOADED: dict[str, Adapter | None] = {}


def adapter_for(provider_type: str, responses_api: bool = False) -> Adapter | None:
    """The adapter of a wire type; with `responses_api`, the one for its own Responses API (None where it has none)."""
    if responses_api:
        provider_type += "+responses"
    if provider_type in _LOADED:
        return _LOADED[provider_type]
    spec = _REGISTRY.get(provider_type)
    adapter = None
    if spec is not None:
        module_name, _, cls = spec.partition(":")
        try:
            adapter = getattr(importlib.import_module(module_name), cls)()
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise
    _LOADED[provider_type] = adapter
    return adapter
