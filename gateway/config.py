"""Every setting the app reads, with its default and its environment variable."""
import math
import os
from dataclasses import dataclass, field, fields

import click

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTANCE_DIR = os.path.join(ROOT, "instance")


class SettingError(ValueError, click.ClickException):
    """A setting that cannot be used; the message names its variable. A ValueError to the code that starts a server
    (gateway/startup.py logs it as one line), and a ClickException to the flask CLI, which builds the app before
    any command runs: `Error: <message>` and exit status 1 instead of a traceback."""

    def __init__(self, message: str):
        ValueError.__init__(self, message)
        click.ClickException.__init__(self, message)

    def __str__(self) -> str:
        return self.message


def _setting(default, env: str):
    """A setting with its default and the environment variable that overrides it (parsed as the default's type)."""
    return field(default=default, metadata={"env": env})


@dataclass
class Settings:
    """Runtime settings. `from_env()` reads them; tests pass overrides to create_app."""
    DATABASE_URL: str = _setting(f"sqlite:///{os.path.join(INSTANCE_DIR, 'switchyard.db')}", "DATABASE_URL")
    REDIS_URL: str | None = _setting(None, "REDIS_URL")
    REDIS_PREFIX: str = _setting("switchyard:", "SWITCHYARD_REDIS_PREFIX")      # namespace of our Redis keys
    SECRET_KEY: str | None = _setting(None, "SWITCHYARD_SECRET_KEY")            # Fernet key for provider secrets
    INSTANCE_DIR: str = _setting(INSTANCE_DIR, "SWITCHYARD_INSTANCE_DIR")
    MAX_BODY_BYTES: int = _setting(32 * 1024 * 1024, "SWITCHYARD_MAX_BODY_BYTES")
    KEY_CACHE_TTL_S: float = _setting(30.0, "SWITCHYARD_KEY_CACHE_TTL_S")
    CATALOG_REFRESH_S: float = _setting(5.0, "SWITCHYARD_CATALOG_REFRESH_S")
    CONNECT_TIMEOUT_S: float = _setting(5.0, "SWITCHYARD_CONNECT_TIMEOUT_S")
    DEFAULT_TIMEOUT_MS: int = _setting(30000, "SWITCHYARD_DEFAULT_TIMEOUT_MS")  # per provider call
    DEFAULT_RETRIES: int = _setting(1, "SWITCHYARD_DEFAULT_RETRIES")
    POOL_MAXSIZE: int = _setting(1000, "SWITCHYARD_POOL_MAXSIZE")               # pooled connections per host
    LOG_FLUSH_INTERVAL_S: float = _setting(0.25, "SWITCHYARD_LOG_FLUSH_INTERVAL_S")
    LOG_BATCH_SIZE: int = _setting(500, "SWITCHYARD_LOG_BATCH_SIZE")
    RATELIMIT_DEFAULT: str | None = _setting(None, "SWITCHYARD_RATELIMIT_DEFAULT")  # e.g. "600/minute" per key
    TOTAL_DEADLINE_S: float = _setting(300.0, "SWITCHYARD_TOTAL_DEADLINE_S")    # all attempts of one request
    COOLDOWN_FAILURES: int = _setting(5, "SWITCHYARD_COOLDOWN_FAILURES")        # retryable failures in the window
    COOLDOWN_WINDOW_S: float = _setting(60.0, "SWITCHYARD_COOLDOWN_WINDOW_S")
    COOLDOWN_S: float = _setting(30.0, "SWITCHYARD_COOLDOWN_S")                 # how long a failing target rests
    STREAM_KEEPALIVE_S: float = _setting(15.0, "SWITCHYARD_STREAM_KEEPALIVE_S")  # SSE comment after silence
    STREAM_IDLE_TIMEOUT_S: float = _setting(120.0, "SWITCHYARD_STREAM_IDLE_TIMEOUT_S")  # longest upstream silence
    STREAM_MAX_S: float = _setting(900.0, "SWITCHYARD_STREAM_MAX_S")            # total deadline of one stream
    ACCESS_LOG: str = _setting("", "SWITCHYARD_ACCESS_LOG")                     # "json": one line per request
    METRICS_TOKEN: str | None = _setting(None, "SWITCHYARD_METRICS_TOKEN")      # set: /metrics needs the bearer
    READY_MAX_LOG_BACKLOG: int = _setting(10000, "SWITCHYARD_READY_MAX_LOG_BACKLOG")  # queued rows /readyz allows
    RESPONSE_RETENTION_DAYS: int = _setting(30, "SWITCHYARD_RESPONSE_RETENTION_DAYS")  # stored /v1/responses
    ADMIN_SECURE_COOKIES: bool = _setting(False, "SWITCHYARD_ADMIN_SECURE_COOKIES")  # admin cookie only over HTTPS
    CORS_ORIGINS: str = _setting("", "SWITCHYARD_CORS_ORIGINS")   # browser origins allowed on /v1 (empty: none)
    TESTING: bool = False

    @classmethod
    def from_env(cls, environ=os.environ) -> "Settings":
        """Defaults, overridden by every setting's environment variable that is set and not empty."""
        s = cls()
        for f in fields(cls):
            env = f.metadata.get("env")
            raw = environ.get(env) if env else None
            if raw in (None, ""):
                continue
            kind = type(f.default) if f.default is not None else str
            if kind is bool:
                flag = raw.strip().lower()
                if flag not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise SettingError(f"{env} is true or false (1/0, yes/no, on/off); got {raw!r}.")
                setattr(s, f.name, flag in ("1", "true", "yes", "on"))
                continue
            try:
                value = kind(raw)
            except ValueError:
                raise SettingError(f"{env} must be {'a whole number' if kind is int else 'a number'}; "
                                   f"got {raw!r}.") from None
            if kind is float and not math.isfinite(value):
                raise SettingError(f"{env} must be a finite number; got {raw!r}.")
            setattr(s, f.name, value)
        return s

    def update(self, overrides: dict | None) -> "Settings":
        """These settings with `overrides` applied; an unknown name is an error (a typo such as DATABSE_URL must
        not be accepted silently)."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides or {}) - names)
        if unknown:
            raise SettingError(f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; the settings "
                             f"are those of gateway/config.py (Settings)")
        for k, v in (overrides or {}).items():
            setattr(self, k, v)
        return self


ACCESS_LOG_VALUES = ("json", "", "off")


def validate_observability(s: Settings) -> None:
    """Stop start-up on a value we would otherwise misread (a typo must not silently turn the access log or the
    default rate limit off, nor a malformed URL fail deep inside a driver), naming the variable."""
    value = (s.ACCESS_LOG or "").strip().lower()
    if value not in ACCESS_LOG_VALUES:
        raise SettingError(f"SWITCHYARD_ACCESS_LOG must be 'json', or 'off' / empty for no access log; got "
                         f"{s.ACCESS_LOG!r}.")
    s.ACCESS_LOG = "" if value == "off" else value
    if s.RATELIMIT_DEFAULT:
        from gateway.limits import default_rate
        try:
            default_rate(s.RATELIMIT_DEFAULT)         # raises naming the variable
        except ValueError as e:
            raise SettingError(str(e)) from None
    if s.RESPONSE_RETENTION_DAYS < 1:
        raise SettingError(f"SWITCHYARD_RESPONSE_RETENTION_DAYS must be 1 or more (days a stored response is kept); "
                         f"got {s.RESPONSE_RETENTION_DAYS}.")
    if s.MAX_BODY_BYTES < 1024:
        raise SettingError(f"SWITCHYARD_MAX_BODY_BYTES must be 1024 or more (the largest request body, in bytes; "
                         f"default {32 * 1024 * 1024}); got {s.MAX_BODY_BYTES}.")
    if s.READY_MAX_LOG_BACKLOG < 0:
        raise SettingError(f"SWITCHYARD_READY_MAX_LOG_BACKLOG must be 0 or more; got {s.READY_MAX_LOG_BACKLOG}.")
    _check_urls(s)
    cors_origins(s)


def _check_urls(s: Settings) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        make_url(s.DATABASE_URL)
    except (ArgumentError, ValueError):
        raise SettingError("DATABASE_URL is not a database URL (such as sqlite:///path/to/file.db or "
                           "postgresql://user:password@host:5432/name).") from None
    if s.REDIS_URL and not s.REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise SettingError("REDIS_URL must start with redis://, rediss:// or unix:// "
                           "(such as redis://127.0.0.1:6379/0).")


def cors_origins(s: Settings) -> list[str]:
    """SWITCHYARD_CORS_ORIGINS as a list: empty (the default) is no CORS at all; `*` is any origin; otherwise each
    comma-separated item is an origin, scheme://host[:port] with no path."""
    import re
    origin_re = re.compile(r"https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?")
    items = [o.strip() for o in (s.CORS_ORIGINS or "").split(",") if o.strip()]
    for origin in items:
        if origin != "*" and not origin_re.fullmatch(origin):
            raise SettingError(f"SWITCHYARD_CORS_ORIGINS takes comma-separated origins such as "
                               f"https://app.example.com or http://localhost:3000 (scheme, host, optional port; no "
                               f"path), or *; got {origin!r}.")
    return items


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
