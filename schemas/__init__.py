"""Marshmallow schemas of the OpenAI-shaped request bodies."""
from schemas.chat import ChatCompletionRequestSchema, validate_chat_request
from schemas.errors import flatten_errors

__all__ = ["ChatCompletionRequestSchema", "validate_chat_request", "flatten_errors"]
