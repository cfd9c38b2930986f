"""The rules a configuration change must follow wherever it is made (the config file, the admin forms): a route target
names a provider that exists and a real effort; a provider's base_url is a plain http(s) URL. Each rule returns its
problems as sentences (empty: fine), so every caller can report all of them at once."""
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from gateway.config import BARE_PREFIXES, BUILTIN_PROVIDERS, EFFORTS

_EFFORTS = ", ".join(EFFORTS[:-1]) + " or " + EFFORTS[-1]
# Model ids of these wire protocols never hold a ':', so a ':suffix' there can only be meant as an effort. An
# OpenAI-compatible server's may (Ollama tags as llama3:8b, fine-tunes as ft:gpt-4o-mini:org::id, OpenRouter's
# :free): there a suffix is refused only after a model the catalog knows without it.
_NO_COLON_TYPES = ("anthropic", "gemini")


def builtin_provider_types() -> dict[str, str]:
    """The providers that exist without configuration (a key in the environment makes them work): name -> type."""
    return {name: ptype for name, (ptype, _, _) in BUILTIN_PROVIDERS.items()}


def target_problems(target: str, providers: Mapping[str, str], models: Mapping[str, dict] | Collection[str] = ()
                    ) -> list[str]:
    """What is wrong with one route target, `provider/model[:effort]` or a bare model id (`gpt-4o`).

    `providers`: every provider that exists (name -> wire type: the ones configured, in the database and built
    in); `models`: the models known (slug -> capabilities, or just slugs), to check an effort against the model's
    own list and to tell a bad effort from a model id that holds a ':'."""
    if not isinstance(target, str) or not target.strip():
        return ["a target must name a model: provider/model[:effort] or a model id"]
    if target != target.strip() or any(c.isspace() for c in target):
        return [f"'{target}' holds whitespace; a target is provider/model[:effort] with no spaces"]
    caps = models if isinstance(models, Mapping) else {m: {} for m in models}
    base, effort = target, None
    if target not in caps:                      # a model whose own id holds a ':' is taken whole
        head, sep, suffix = target.rpartition(":")
        if sep and suffix in EFFORTS and head:
            base, effort = head, suffix
    prefix, sep, rest = base.partition("/")
    if sep:
        if not prefix or not rest:
            return [f"'{target}' is not provider/model (both parts are needed)"]
        name, model = prefix, rest
        if name not in providers:
            known = ", ".join(sorted(providers)) or "none"
            return [f"'{target}' names the provider '{name}', which does not exist (not in this file, the database "
                    f"or the built-in providers; known: {known})"]
    else:
        name = next((p for bare, p in BARE_PREFIXES if base.startswith(bare)), None)
        if name is None:
            return [f"'{target}' is neither provider/model nor a model id the gateway maps to a provider "
                    f"({', '.join(sorted({b + '*' for b, _ in BARE_PREFIXES}))})"]
        model = base
    slug = f"{name}/{model}"
    if effort is not None:
        efforts = (caps.get(slug) or {}).get("efforts")
        if efforts is not None and effort not in efforts:
            return [f"'{target}': the model '{slug}' does not take the effort ':{effort}' (it takes: "
                    f"{', '.join(efforts) or 'none'})"]
        return []
    if slug in caps:
        return []
    head, sep, suffix = model.rpartition(":")
    if not sep:
        return []
    if not suffix:
        return [f"'{target}' ends with ':'; an effort is :{' :'.join(EFFORTS)}"]
    if suffix.lower() in EFFORTS:
        return [f"'{target}': the effort ':{suffix}' is written in lowercase (:{suffix.lower()})"]
    if f"{name}/{head}" in caps or providers.get(name) in _NO_COLON_TYPES:
        return [f"'{target}': ':{suffix}' is not a reasoning effort (it takes {_EFFORTS}); as written it would be "
                f"sent upstream as the model '{model}'"]
    return []


def base_url_problems(url) -> list[str]:
    """A provider's base_url: http or https, a host, no credentials (a key goes in api_key or api_key_env, which are
    stored encrypted or kept in the environment), no query or fragment (the gateway appends the API's paths)."""
    if not isinstance(url, str) or not url.strip():
        return ["must be a URL such as https://api.example.com/v1"]
    parts = urlsplit(url.strip())
    # what a message may quote: never the credentials, the query or the fragment (any of them may hold a secret)
    shown = f"'{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}'" if parts.scheme else "the URL"
    if url != url.strip() or any(c.isspace() for c in url):
        return [f"{shown} holds whitespace"]
    try:
        port = parts.port
    except ValueError:
        return [f"{shown} has a port that is not a number from 1 to 65535"]
    problems = []
    if parts.scheme not in ("http", "https"):
        problems.append(f"{shown} must start with http:// or https://")
    if not parts.hostname:
        problems.append(f"{shown} names no host")
    if "@" in parts.netloc:
        problems.append("a base_url must not hold credentials (user:password@); give the key as api_key or "
                        "api_key_env")
    if parts.query or "?" in url:
        problems.append(f"{shown} must not have a query (?...); the gateway appends the API's own paths")
    if parts.fragment or "#" in url:
        problems.append(f"{shown} must not have a fragment (#...)")
    if port == 0:
        problems.append(f"{shown} names port 0")
    return problems
