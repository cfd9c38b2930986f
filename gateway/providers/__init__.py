"""Provider adapters: pure translation between the OpenAI shape and each wire protocol."""
from gateway.providers.base import Adapter
from gateway.providers.openai import OpenAIAdapter

ADAPTERS: dict[str, Adapter] = {"openai": OpenAIAdapter()}


def adapter_for(provider_type: str) -> Adapter | None:
    return ADAPTERS.get(provider_type)
