"""Every setting the app reads, with its default and its environment variable."""
import os
from dataclasses import dataclass, field, fields

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTANCE_DIR = os.path.join(ROOT, "instance")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass
class Settings:
    """Runtime settings. `from_env()` reads them; tests pass overrides to create_app."""
    DATABASE_URL: str = f"sqlite:///{os.path.join(INSTANCE_DIR, 'switchyard.db')}"
    REDIS_URL: str | None = None
    REDIS_PREFIX: str = "switchyard:"         # SWITCHYARD_REDIS_PREFIX: namespace of every key we keep in Redis
    SECRET_KEY: str | None = None            # SWITCHYARD_SECRET_KEY: Fernet key for provider secrets
    INSTANCE_DIR: str = INSTANCE_DIR
    MAX_BODY_BYTES: int = 32 * 1024 * 1024    # SWITCHYARD_MAX_BODY_BYTES
    KEY_CACHE_TTL_S: float = 30.0             # SWITCHYARD_KEY_CACHE_TTL_S
    CATALOG_REFRESH_S: float = 5.0            # SWITCHYARD_CATALOG_REFRESH_S
    CONNECT_TIMEOUT_S: float = 5.0            # SWITCHYARD_CONNECT_TIMEOUT_S
    DEFAULT_TIMEOUT_MS: int = 30000           # SWITCHYARD_DEFAULT_TIMEOUT_MS (per provider call)
    DEFAULT_RETRIES: int = 1                  # SWITCHYARD_DEFAULT_RETRIES
    POOL_MAXSIZE: int = 1000                  # SWITCHYARD_POOL_MAXSIZE: pooled connections per upstream host
    LOG_FLUSH_INTERVAL_S: float = 0.25        # SWITCHYARD_LOG_FLUSH_INTERVAL_S
    LOG_BATCH_SIZE: int = 500                 # SWITCHYARD_LOG_BATCH_SIZE
    RATELIMIT_DEFAULT: str | None = None      # SWITCHYARD_RATELIMIT_DEFAULT, e.g. "600/minute" per key
    TOTAL_DEADLINE_S: float = 300.0           # SWITCHYARD_TOTAL_DEADLINE_S: all attempts of one request
    COOLDOWN_FAILURES: int = 5                # SWITCHYARD_COOLDOWN_FAILURES: retryable failures within the window
    COOLDOWN_WINDOW_S: float = 60.0           # SWITCHYARD_COOLDOWN_WINDOW_S
    COOLDOWN_S: float = 30.0                  # SWITCHYARD_COOLDOWN_S: how long a failing target is skipped
    STREAM_KEEPALIVE_S: float = 15.0          # SWITCHYARD_STREAM_KEEPALIVE_S: SSE comment when nothing else is sent
    STREAM_IDLE_TIMEOUT_S: float = 120.0      # SWITCHYARD_STREAM_IDLE_TIMEOUT_S: longest silence from upstream
    STREAM_MAX_S: float = 900.0               # SWITCHYARD_STREAM_MAX_S: total deadline of one stream
    TESTING: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> "Settings":
        s = cls()
        s.DATABASE_URL = os.environ.get("DATABASE_URL") or s.DATABASE_URL
        s.REDIS_URL = os.environ.get("REDIS_URL") or None
        s.REDIS_PREFIX = os.environ.get("SWITCHYARD_REDIS_PREFIX") or s.REDIS_PREFIX
        s.SECRET_KEY = os.environ.get("SWITCHYARD_SECRET_KEY") or None
        s.INSTANCE_DIR = os.environ.get("SWITCHYARD_INSTANCE_DIR") or s.INSTANCE_DIR
        s.MAX_BODY_BYTES = _env_int("SWITCHYARD_MAX_BODY_BYTES", s.MAX_BODY_BYTES)
        s.KEY_CACHE_TTL_S = _env_float("SWITCHYARD_KEY_CACHE_TTL_S", s.KEY_CACHE_TTL_S)
        s.CATALOG_REFRESH_S = _env_float("SWITCHYARD_CATALOG_REFRESH_S", s.CATALOG_REFRESH_S)
        s.CONNECT_TIMEOUT_S = _env_float("SWITCHYARD_CONNECT_TIMEOUT_S", s.CONNECT_TIMEOUT_S)
        s.DEFAULT_TIMEOUT_MS = _env_int("SWITCHYARD_DEFAULT_TIMEOUT_MS", s.DEFAULT_TIMEOUT_MS)
        s.DEFAULT_RETRIES = _env_int("SWITCHYARD_DEFAULT_RETRIES", s.DEFAULT_RETRIES)
        s.POOL_MAXSIZE = _env_int("SWITCHYARD_POOL_MAXSIZE", s.POOL_MAXSIZE)
        s.LOG_FLUSH_INTERVAL_S = _env_float("SWITCHYARD_LOG_FLUSH_INTERVAL_S", s.LOG_FLUSH_INTERVAL_S)
        s.LOG_BATCH_SIZE = _env_int("SWITCHYARD_LOG_BATCH_SIZE", s.LOG_BATCH_SIZE)
        s.RATELIMIT_DEFAULT = os.environ.get("SWITCHYARD_RATELIMIT_DEFAULT") or None
        s.TOTAL_DEADLINE_S = _env_float("SWITCHYARD_TOTAL_DEADLINE_S", s.TOTAL_DEADLINE_S)
        s.COOLDOWN_FAILURES = _env_int("SWITCHYARD_COOLDOWN_FAILURES", s.COOLDOWN_FAILURES)
        s.COOLDOWN_WINDOW_S = _env_float("SWITCHYARD_COOLDOWN_WINDOW_S", s.COOLDOWN_WINDOW_S)
        s.COOLDOWN_S = _env_float("SWITCHYARD_COOLDOWN_S", s.COOLDOWN_S)
        s.STREAM_KEEPALIVE_S = _env_float("SWITCHYARD_STREAM_KEEPALIVE_S", s.STREAM_KEEPALIVE_S)
        s.STREAM_IDLE_TIMEOUT_S = _env_float("SWITCHYARD_STREAM_IDLE_TIMEOUT_S", s.STREAM_IDLE_TIMEOUT_S)
        s.STREAM_MAX_S = _env_float("SWITCHYARD_STREAM_MAX_S", s.STREAM_MAX_S)
        return s

    def update(self, overrides: dict | None) -> "Settings":
        names = {f.name for f in fields(self)}
        for k, v in (overrides or {}).items():
            if k in names:
                setattr(self, k, v)
            else:
                self.extra[k] = v
        return self


# Built-in providers: a provider whose key is in the environment works with no other set-up.
# name -> (wire type, default base URL, env var of the key)
BUILTIN_PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": ("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    "anthropic": ("anthropic", "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY"),
    "gemini": ("gemini", "https://generativelanguage.googleapis.com/v1beta", "GEMINI_API_KEY"),
    "xai": ("openai", "https://api.x.ai/v1", "XAI_API_KEY"),
    "mistral": ("openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "deepseek": ("openai", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "groq": ("openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "openrouter": ("openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
}

# A bare model id is matched to a provider by its prefix.
BARE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-", "openai"), ("chatgpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
    ("claude-", "anthropic"), ("gemini-", "gemini"), ("grok-", "xai"),
)

EFFORTS = ("low", "medium", "high", "max")
