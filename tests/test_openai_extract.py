"""The committed OpenAI schema extract is exactly what the generator makes from the official file, and as strict."""
import copy
import os

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support import openai_extract
from tests.support.openapi import _nullable_to_type, validator

SOURCE = os.environ.get("OPENAI_SPEC_PATH") or openai_extract.DEFAULT_SOURCE
if os.environ.get("OPENAI_SPEC_PATH") and not os.path.exists(SOURCE):     # named explicitly (CI): must be there
    raise FileNotFoundError(f"OPENAI_SPEC_PATH names {SOURCE}, which does not exist")
needs_source = pytest.mark.skipif(
    not os.path.exists(SOURCE),
    reason=f"the official OpenAI OpenAPI file is not at {os.path.normpath(SOURCE)} (it is on the team's reference "
           "shelf, not in the repository; set OPENAI_SPEC_PATH to check the committed extract against a copy)")


@pytest.fixture(scope="module")
def source():
    return openai_extract.load_source(SOURCE)


@needs_source
def test_committed_extract_is_what_the_generator_makes_from_the_official_file(source):
    doc, sha = source
    fresh = openai_extract.extract(doc)
    with open(openai_extract.EXTRACT_PATH, encoding="utf-8") as f:
        committed = f.read()
    assert committed == openai_extract.render(fresh), (
        "tests/support/openai_spec/extract.json differs from a fresh extract of the official file: run "
        "`.venv/bin/python -m tests.support.openai_extract` and commit the result")
    with open(openai_extract.SOURCE_PATH, encoding="utf-8") as f:
        assert f.read() == openai_extract.source_note(doc, sha, len(fresh["components"]["schemas"]))


@needs_source
def test_extract_judges_bodies_exactly_as_the_full_file_does(source):
    doc, _ = source
    full = _nullable_to_type(copy.deepcopy(doc))
    registry = Registry().with_resource("urn:openai", Resource.from_contents(full, default_specification=DRAFT202012))

    def full_validator(name):
        return Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{name}"}, registry=registry)

    good = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": "hi", "refusal": None}}]}
    cases = [("CreateChatCompletionResponse", good)]
    for path, value in [(("choices", 0, "logprobs"), "drop"), (("choices", 0, "message", "role"), "user"),
                        (("choices", 0, "finish_reason"), "done"), (("created",), "soon"), (("choices",), "drop")]:
        bad = copy.deepcopy(good)
        node = bad
        for p in path[:-1]:
            node = node[p]
        if value == "drop":
            del node[path[-1]]
        else:
            node[path[-1]] = value
        cases.append(("CreateChatCompletionResponse", bad))
    cases += [("ErrorResponse", {"error": {"message": "m", "type": "t", "code": None, "param": None}}),
              ("ErrorResponse", {"error": {"message": "m", "type": "t"}}),
              ("Model", {"id": "x", "object": "model", "created": 0, "owned_by": "o"}),
              ("Model", {"id": "x", "object": "model", "owned_by": "o"}),
              ("CreateChatCompletionStreamResponse",
               {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None, "logprobs": None}]}),
              ("CreateChatCompletionStreamResponse",
               {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {"content": 3}, "finish_reason": None}]})]
    verdicts = []
    for name, body in cases:
        ours = sorted(e.message for e in validator(name).iter_errors(body))
        theirs = sorted(e.message for e in full_validator(name).iter_errors(body))
        assert ours == theirs, (name, body)
        verdicts.append(not ours)
    assert verdicts.count(True) == 4 and verdicts.count(False) == len(cases) - 4   # the cases do tell apart


def test_a_keyword_the_generator_does_not_know_is_an_error_not_a_silent_drop():
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
           "components": {"schemas": {"ErrorResponse": {"type": "object", "properties": {
               "error": {"$ref": "#/components/schemas/Error"}}},
               "Error": {"type": "string", "description": "prose", "x-oaiMeta": {}, "newConstraint": 3}}}}
    with pytest.raises(openai_extract.UnknownKeyword, match="Error/newConstraint"):
        openai_extract.extract(doc, roots=("ErrorResponse",))
    del doc["components"]["schemas"]["Error"]["newConstraint"]
    out = openai_extract.extract(doc, roots=("ErrorResponse",))
    assert out["components"]["schemas"]["Error"] == {"type": "string"}           # prose and x-* gone
    assert set(out["components"]["schemas"]) == {"ErrorResponse", "Error"}       # the $ref closure


def test_a_property_named_like_an_annotation_is_kept():
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
           "components": {"schemas": {"Tool": {"type": "object", "required": ["description"], "properties": {
               "description": {"type": "string", "title": "prose"}, "title": {"type": "integer"}}}}}}
    out = openai_extract.extract(doc, roots=("Tool",))["components"]["schemas"]["Tool"]
    assert out == {"type": "object", "required": ["description"],
                   "properties": {"description": {"type": "string"}, "title": {"type": "integer"}}}
