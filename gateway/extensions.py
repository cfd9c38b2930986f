"""Unbound extension objects, bound to the app in create_app."""
from flask_limiter import Limiter

# Per-key request rates. Limits are applied explicitly after authentication (gateway/limits.py), so there are
# no default limits and the key function is never the client's address.
limiter = Limiter(key_func=lambda: "unauthenticated", default_limits=[], strategy="fixed-window",
                  headers_enabled=False, swallow_errors=True)
