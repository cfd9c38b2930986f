"""OpenAI and every OpenAI-compatible server (xAI, DeepSeek, Mistral, Groq, OpenRouter, vLLM, Ollama...).

One adapter; the per-provider differences are rows of the variants table (variants.py), picked by the
Target's provider name (or its base URL's host). POST {base_url}/chat/completions, Bearer auth.
"""
from typing import Any

import orjson

from gateway import exceptions as exc
from gateway.providers.base import Adapter, StreamState
from gateway.values import Completion, Target, UpstreamRequest
from gateway.providers.openai import errors, response
from gateway.providers.openai.request import build_body
from gateway.providers.openai.response import usage_from_openai
from gateway.providers.openai.stream import OpenAIStreamState
from gateway.providers.openai.variants import DEFAULT, VARIANTS, Variant, variant_for

__all__ = ["OpenAIAdapter", "OpenAIStreamState", "usage_from_openai", "Variant", "VARIANTS", "DEFAULT",
           "variant_for"]


class OpenAIAdapter(Adapter):
    def build_request(self, body: dict, target: Target, stream: bool = False) -> UpstreamRequest:
        variant = variant_for(target)
        out = build_body(body, target, variant, stream)
        headers = {"Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json", **variant.headers}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        return UpstreamRequest("POST", f"{target.base_url.rstrip('/')}/chat/completions", headers, orjson.dumps(out))

    def parse_response(self, payload: Any, target: Target, requested_model: str) -> Completion:
        return response.parse(payload, requested_model, variant_for(target))

    def stream_state(self, target: Target) -> StreamState:
        return OpenAIStreamState(variant_for(target))

    def parse_error(self, status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
        return errors.from_answer(status, payload, retry_after)
