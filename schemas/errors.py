"""Turns marshmallow's nested error dicts into one message naming the field (`messages[0].role`)."""


def _walk(errors, path: str):
    if isinstance(errors, dict):
        for key, sub in errors.items():
            if isinstance(key, int):
                yield from _walk(sub, f"{path}[{key}]")
            elif key == "_schema":
                yield from _walk(sub, path)
            else:
                yield from _walk(sub, f"{path}.{key}" if path else str(key))
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, (dict, list)):
                yield from _walk(item, path)
            else:
                yield path, str(item)
    else:
        yield path, str(errors)


def flatten_errors(errors: dict) -> tuple[str, str]:
    """-> (param, message) of the first error, the message naming the field."""
    pairs = sorted(_walk(errors, ""), key=lambda p: p[0])
    param, msg = pairs[0] if pairs else ("", "Invalid request body.")
    return param or None, (f"{param}: {msg}" if param else msg)
