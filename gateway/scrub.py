"""Provider key material out of upstream messages: a provider's 401 often quotes our own key, masked
(`sk-up...enai`, `sk-proj-****abcd`) or whole; no such message reaches a client, a log line or a log row."""
import re

from gateway import exceptions as exc

REDACTED = "[redacted]"
# A token as a provider would quote a key: letters, digits, - _ and the masking characters * . and the ellipsis.
_TOKEN = re.compile(r"[A-Za-z0-9_\-*.\u2026]{6,}")
_MASK = re.compile(r"\*{2,}|\.{3}|\u2026")


def scrub(message: str, api_key: str | None) -> str:
    """`message` without `api_key`, and without any masked form of it (its first or last four characters
    around a run of `*`, `...` or an ellipsis)."""
    if not api_key or not message:
        return message
    if api_key in message:
        message = message.replace(api_key, REDACTED)
    head, tail = api_key[:4], api_key[-4:]

    def masked(m: re.Match) -> str:
        token = m.group(0).rstrip(".")
        trailing = m.group(0)[len(token):]
        if _MASK.search(token) and (token.startswith(head) or token.endswith(tail)):
            return REDACTED + trailing
        return m.group(0)
    return _TOKEN.sub(masked, message) if len(api_key) >= 8 else message


def scrub_error(err: exc.GatewayError, api_key: str | None) -> exc.GatewayError:
    """The same error, its message scrubbed of `api_key` (in place: it is about to be raised or rendered)."""
    clean = scrub(err.message, api_key)
    if clean != err.message:
        err.message = clean
        err.args = (clean,)
    return err
