"""The error tree's client message: a client error names its field, even where the raiser's sentence did not."""
from gateway import exceptions as exc
from gateway.errors import envelope


def test_a_client_error_names_its_field_once():
    err = exc.InvalidRequest("A message's content must be a string or a list of parts.", param="input[3].content")
    assert envelope(err)["error"]["message"] == ("input[3].content: A message's content must be a string or a "
                                                 "list of parts.")
    already = exc.InvalidRequest("model is required.", param="model")
    assert envelope(already)["error"]["message"] == "model is required."
    assert err.message.startswith("A message's")            # the logs keep the raiser's sentence


def test_server_errors_and_errors_without_a_field_are_as_raised():
    assert envelope(exc.ProviderUnavailable("upstream down", param="x"))["error"]["message"] == "upstream down"
    assert envelope(exc.RateLimited("slow down"))["error"]["message"] == "slow down"
