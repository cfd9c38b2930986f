"""The request record's log row holds client text as a text column can: no NUL characters (PostgreSQL refuses
them, and with them the whole batch of rows written together), model names clipped to their column."""
from gateway.record import RequestRecord


def _strings(row: dict):
    for value in row.values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                yield from _strings(item)


def test_nul_characters_never_reach_a_log_row():
    rec = RequestRecord(request_id="req_1", endpoint="chat.completions")
    rec.asked("openai/gpt\x00" + "x" * 300)
    rec.attempt_failed("openai/gpt\x00x", 400, "invalid_request", "no model 'gpt\x00x'", 1.0)
    rec.failed("model_not_supported", 400, "The model 'm\x00x' is not supported.")
    row = rec.log_row()
    assert all("\x00" not in s for s in _strings(row))
    assert row["requested_model"] == "openai/gpt\ufffd" + "x" * 189 and len(row["requested_model"]) == 200
    assert row["error_message"] == "The model 'm\ufffdx' is not supported."
    assert row["attempt_rows"][0]["target"] == "openai/gpt\ufffdx"
    assert row["attempt_rows"][0]["error_message"] == "no model 'gpt\ufffdx'"


def test_ordinary_text_is_kept_as_it_is():
    rec = RequestRecord(request_id="req_2", endpoint="responses")
    rec.asked("openai/gpt-4o-mini")
    rec.failed("invalid_request", 400, "messages[0].role: Must be one of: user.")
    row = rec.log_row()
    assert (row["requested_model"], row["error_message"]) == ("openai/gpt-4o-mini",
                                                              "messages[0].role: Must be one of: user.")
