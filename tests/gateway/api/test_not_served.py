"""Paths of the OpenAI API the gateway does not serve answer 501 not_implemented in the envelope, any method, naming
what it serves; every other unknown path stays a 404, and the served paths keep their 405 for other methods."""
import pytest
import requests

from tests.support.openapi import assert_valid

SERVES = ("POST /v1/chat/completions", "POST /v1/responses", "GET/DELETE /v1/responses/{response_id}",
          "GET /v1/responses/{response_id}/input_items", "GET /v1/models", "GET /v1/models/{model}",
          "GET /v1/usage", "GET /v1/usage/summary")


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/embeddings"), ("GET", "/v1/embeddings"), ("POST", "/v1/completions"),
    ("POST", "/v1/audio/speech"), ("POST", "/v1/audio/transcriptions"), ("POST", "/v1/images/generations"),
    ("POST", "/v1/images/edits"), ("GET", "/v1/files"), ("POST", "/v1/files"), ("DELETE", "/v1/files/file-abc"),
    ("GET", "/v1/files/file-abc/content"), ("POST", "/v1/batches"), ("GET", "/v1/batches/batch_1"),
    ("POST", "/v1/moderations"), ("PUT", "/v1/moderations"), ("PATCH", "/v1/fine_tuning/jobs"),
    ("POST", "/v1/assistants"), ("POST", "/v1/threads/t1/runs"), ("POST", "/v1/vector_stores"),
    ("GET", "/v1/chat/completions/chatcmpl-1"), ("POST", "/v1/responses/resp_1/cancel"),
    ("POST", "/v1/responses/input_tokens"), ("OPTIONS", "/v1/embeddings"),
])
def test_openai_paths_not_served_are_501(live, api_key, method, path):
    resp = requests.request(method, f"{live.url}{path}", headers={"Authorization": f"Bearer {api_key}"},
                            json={"model": "m", "input": "x"})
    assert resp.status_code == 501 and resp.headers["content-type"] == "application/json"
    error = resp.json()["error"]
    assert error["code"] == error["type"] == "not_implemented" and error["param"] is None
    assert error["message"].startswith(f"{method} {path} is part of the OpenAI API that this gateway does not serve.")
    for served in SERVES:
        assert served in error["message"]
    assert_valid(resp.json(), "ErrorResponse")


def test_no_key_needed_to_learn_it_is_not_served(live):
    resp = requests.post(f"{live.url}/v1/embeddings", json={"input": "x"})
    assert resp.status_code == 501 and resp.json()["error"]["code"] == "not_implemented"


def test_a_head_request_is_501_without_a_body(live):
    resp = requests.head(f"{live.url}/v1/images/generations")
    assert resp.status_code == 501 and resp.content == b""


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/v1/nothing", 404, "not_found"),
    ("POST", "/v2/embeddings", 404, "not_found"),
    ("GET", "/embeddings", 404, "not_found"),
    ("POST", "/v1/embeddingsx", 404, "not_found"),
    ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
    ("PUT", "/v1/models", 405, "method_not_allowed"),
    ("GET", "/v1/responses/resp_nope", 404, "not_found"),
])
def test_other_paths_keep_their_answers(live, api_key, method, path, status, code):
    resp = requests.request(method, f"{live.url}{path}", headers={"Authorization": f"Bearer {api_key}"})
    assert resp.status_code == status and resp.json()["error"]["code"] == code
