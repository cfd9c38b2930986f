"""CORS on /v1 for the browser origins SWITCHYARD_CORS_ORIGINS names (flask-cors); none is the default: no
Access-Control-* header at all. Never on /admin, never with credentials (the API takes bearer keys, not cookies)."""
from flask import Flask

from gateway.config import Settings, cors_origins

# what a browser client may read of our answers
EXPOSED = ["x-request-id", "x-gateway-provider", "x-gateway-model", "x-gateway-fallback-used", "x-gateway-attempts",
           "x-gateway-latency-ms", "x-gateway-overhead-ms", "x-gateway-cost-usd", "retry-after",
           "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
           "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"]


def init_cors(app: Flask, settings: Settings) -> None:
    origins = cors_origins(settings)
    if not origins:
        return
    from flask_cors import CORS
    CORS(app, resources={r"/v1/*": {"origins": "*" if "*" in origins else origins}}, supports_credentials=False,
         expose_headers=EXPOSED, max_age=600)
