"""The Responses API <-> canonical chat translation: pure functions and one stream state, no I/O.

request.to_chat(body) turns a `POST /v1/responses` body into the chat-completions body the pipeline takes;
response.from_chat(completion, request) turns the pipeline's chat.completion into a `response` object;
stream.ResponsesStream turns the pipeline's chat.completion.chunk bodies into Responses stream events.
"""
from gateway.responses.request import ChatRequest, to_chat
from gateway.responses.response import from_chat, new_response_id
from gateway.responses.stream import ResponsesStream

__all__ = ["ChatRequest", "ResponsesStream", "from_chat", "new_response_id", "to_chat"]
