"""The plain values that cross the request path: prices, targets, upstream requests, usage and completions.

They carry data only: no I/O, no ORM objects, no imports from providers/, models/ or SQLAlchemy, so the transport,
the pricing, the record and the adapters can all share them without depending on each other."""
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


RATE_FIELDS = ("input", "output", "cached_input", "cache_write", "cache_write_1h", "reasoning", "audio_input")


@dataclass(frozen=True)
class Tier:
    """Above `above` prompt tokens the whole request bills at these rates (a field left None keeps the base)."""
    above: int
    rates: dict


@dataclass(frozen=True)
class Window:
    """UTC weekdays (0 = Monday) and minutes of the day [start, end) (end <= start: past midnight) in which these
    rates apply instead, as DeepSeek's off-peak hours."""
    days: tuple[int, ...]
    start_min: int
    end_min: int
    rates: dict

    def holds(self, weekday: int, minute: int) -> bool:
        if self.start_min < self.end_min:
            return weekday in self.days and self.start_min <= minute < self.end_min
        if minute >= self.start_min:                # the evening part, on one of the days
            return weekday in self.days
        return minute < self.end_min and (weekday - 1) % 7 in self.days   # after midnight: the day before's


@dataclass(frozen=True)
class Price:
    """USD per million tokens by usage field, from one price row (its id and the model's version of it).
    cache_write is the 5-minute cache write; reasoning and audio_input, when None, bill as output and input."""
    version: int
    input: Decimal | None
    output: Decimal | None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    reasoning: Decimal | None = None
    audio_input: Decimal | None = None
    id: int | None = None                      # the price row (models/price_row.py)
    effective_from: float = 0.0                # Unix time
    tiers: tuple[Tier, ...] = ()
    windows: tuple[Window, ...] = ()


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
    cache_write_tokens: int = 0     # every cache write (Anthropic: 5-minute and 1-hour)
    reasoning_tokens: int = 0
    cache_write_1h_tokens: int = 0  # the 1-hour part of cache_write_tokens (Anthropic's cache_creation split)
    audio_input_tokens: int = 0     # the audio part of prompt_tokens (Gemini's AUDIO modality)

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
