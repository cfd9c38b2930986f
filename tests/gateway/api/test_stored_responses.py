"""Stored responses through the HTTP API with the official SDK: GET, DELETE and input_items, scoped to the key,
`store: false` keeping nothing, readable the moment the answer has been sent (streamed or not), and a chain
continued by previous_response_id across providers. Every body is checked against the official schema."""
import json

import openai
import pytest
import requests
from sqlalchemy import select

from gateway.keys import create_key
from models import StoredResponse
from tests.support.openapi import assert_valid


@pytest.fixture
def other(live, services) -> openai.OpenAI:
    _, secret = create_key(services.sessionmaker, "someone-else")
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=secret, max_retries=0, timeout=20)


def _get(live, key, path, **params):
    return requests.get(f"{live.url}/v1/responses/{path}", params=params, timeout=20,
                        headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"])
def test_a_response_is_readable_as_soon_as_it_was_answered(client, live, api_key, model):
    made = client.responses.create(model=model, input="Hello", instructions="Be brief.")
    r = _get(live, api_key, made.id)                    # no wait: the writer may not have flushed yet
    assert r.status_code == 200
    assert_valid(r.json(), "Response")
    assert r.json() == json.loads(made.model_dump_json(exclude_unset=True)) | {"output": r.json()["output"]}
    got = client.responses.retrieve(made.id)
    assert got.id == made.id and got.output_text == "Echo: Hello" and got.instructions == "Be brief."


def test_a_streamed_response_is_stored_when_its_last_event_was_sent(client):
    with client.responses.stream(model="gemini/gemini-2.5-flash", input="Hello") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    got = client.responses.retrieve(final.id)
    assert got.status == "completed" and got.output_text == final.output_text == "Echo: Hello"


def test_input_items_list_the_request_input_as_items(client, live, api_key):
    made = client.responses.create(model="local/tuned", input=[
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]}])
    page = _get(live, api_key, f"{made.id}/input_items")
    assert page.status_code == 200
    assert_valid(page.json(), "ResponseItemList")
    data = page.json()["data"]
    assert [i["role"] for i in data] == ["user", "developer"]          # newest first, as OpenAI lists them
    asc = client.responses.input_items.list(made.id, order="asc", limit=1)
    assert [i.role for i in asc.data] == ["developer"] and asc.has_more
    rest = client.responses.input_items.list(made.id, order="asc", after=asc.data[0].id)
    assert [i.role for i in rest.data] == ["user"] and not rest.has_more
    bad = _get(live, api_key, f"{made.id}/input_items", limit=500)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "limit"


def test_delete_removes_it_for_good(client, live, api_key, services):
    made = client.responses.create(model="openai/gpt-4o-mini", input="Hello")
    client.responses.delete(made.id)
    assert _get(live, api_key, made.id).status_code == 404
    with services.sessionmaker() as s:                 # a tombstone: the content is gone, every worker says 404
        row = s.scalar(select(StoredResponse).where(StoredResponse.id == made.id))
        assert row.deleted_at is not None and row.response == "{}" and row.input_items == "[]"
    again = requests.delete(f"{live.url}/v1/responses/{made.id}", timeout=20,
                            headers={"Authorization": f"Bearer {api_key}"})
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    assert_valid(again.json(), "ErrorResponse")


def test_another_keys_response_is_a_404_everywhere(client, other, live):
    made = client.responses.create(model="openai/gpt-4o-mini", input="Hello")
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.input_items.list(made.id)
    with pytest.raises(openai.BadRequestError) as info:
        other.responses.create(model="openai/gpt-4o-mini", input="More", previous_response_id=made.id)
    assert info.value.body["param"] == "previous_response_id"
    assert client.responses.retrieve(made.id).id == made.id     # still there for its own key


def test_store_false_keeps_nothing(client, services):
    made = client.responses.create(model="anthropic/claude-sonnet-4-5", input="Hello", store=False)
    assert made.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)
    services.responses.store.flush()
    with services.sessionmaker() as s:
        assert s.scalar(select(StoredResponse).where(StoredResponse.id == made.id)) is None


def test_an_unknown_id_is_a_404_at_once(live, api_key):
    r = _get(live, api_key, "resp_does_not_exist")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = requests.post(f"{live.url}/v1/responses", timeout=20, headers={"Authorization": f"Bearer {api_key}"},
                      json={"model": "openai/gpt-4o-mini", "input": "x", "previous_response_id": "resp_nope"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "previous_response_id"


def test_a_chain_moves_between_providers(client, double):
    first = client.responses.create(model="openai/gpt-4o-mini", input="My name is Ada.")
    second = client.responses.create(model="anthropic/claude-sonnet-4-5", input="What is my name?",
                                     previous_response_id=first.id)
    sent = double.last().body
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert "Echo: My name is Ada." in json.dumps(sent["messages"][1])
    third = client.responses.create(model="local/tuned", input="And again?", previous_response_id=second.id)
    assert [m["role"] for m in double.last().body["messages"]] == ["user", "assistant"] * 2 + ["user"]
    items = client.responses.input_items.list(third.id, order="asc")
    assert [i.content[0].text for i in items.data] == ["And again?"]    # its own input; the chain is the context
