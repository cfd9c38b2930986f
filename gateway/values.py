"""The plain values that cross the request path: prices, targets, upstream requests, usage and completions.

They carry data only: no I/O, no ORM objects, no imports from providers/, models/ or SQLAlchemy, so the transport,
the pricing, the record and the adapters can all share them without depending on each other."""
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Price:
    """USD per million tokens, with the version of the price row that holds them."""
    version: int
    input: Decimal | None
    output: Decimal | None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None


@dataclass(frozen=True)
class Target:
    """One place a request can be served: plain values, no ORM objects."""
    provider: str            # provider name, the prefix in "openai/gpt-4o"
    provider_type: str       # wire protocol: openai | anthropic | gemini
    base_url: str
    api_key: str | None
    upstream_model: str
    slug: str                # provider/model as the catalog names it
    effort: str | None = None
    timeout_s: float = 30.0
    retries: int = 1
    price: Price | None = None
    overrides: dict = field(default_factory=dict)
    drop_unsupported: bool = False
    capabilities: dict = field(default_factory=dict)
    responses_native: bool = False   # /v1/responses goes to the provider's own Responses API, not onto chat

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.upstream_model}"


@dataclass
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


@dataclass
class Usage:
    prompt_tokens: int = 0          # includes cached and cache-write tokens (OpenAI's rule)
    completion_tokens: int = 0      # includes reasoning tokens
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_openai(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens,
                                      "cache_write_tokens": self.cache_write_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }


@dataclass
class Completion:
    """A translated non-streaming answer: the OpenAI body and the usage it reports (None when unknown)."""
    body: dict[str, Any]
    usage: Usage | None
