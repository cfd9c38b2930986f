"""The SSE decoder at the byte level: every split of the input gives the same events."""
import pytest

from gateway.sse import DONE, SSEDecoder, comment, encode_chunk


def _decode_in_pieces(raw: bytes, step: int):
    d = SSEDecoder()
    out = []
    for i in range(0, len(raw), step):
        out += d.feed(raw[i:i + step])
    out += d.close()
    return [(e.event, e.data) for e in out]


STREAM = ('data: {"a":"héllo ✓ 😀"}\r\n\r\n'       # CRLF, multibyte characters (2, 3 and 4 bytes)
          'event: message_start\rdata: 1\r\r'           # bare CR line endings
          ': keep-alive comment\n\n'                    # comment only: no event
          'data: line one\ndata: line two\n\n'          # multi-line data joined with \n
          'id: 7\ndata:no-space\n\n'                    # no space after the colon
          'data: [DONE]\n\n').encode()
EXPECTED = [(None, '{"a":"héllo ✓ 😀"}'), ("message_start", "1"), (None, "line one\nline two"),
            (None, "no-space"), (None, "[DONE]")]


@pytest.mark.parametrize("step", range(1, 12))
def test_every_split_gives_the_same_events(step):
    assert _decode_in_pieces(STREAM, step) == EXPECTED


def test_all_splits_of_a_crlf_and_multibyte_boundary():
    raw = "data: é😀\r\n\r\ndata: x\r\n\r\n".encode()
    for cut in range(1, len(raw)):
        d = SSEDecoder()
        events = d.feed(raw[:cut]) + d.feed(raw[cut:]) + d.close()
        assert [e.data for e in events] == ["é😀", "x"], cut


def test_cr_at_end_of_read_then_lf_is_one_line_ending():
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert [e.data for e in d.feed(b"\n\r\n")] == ["a"]


def test_unterminated_last_event_is_delivered_on_close():
    d = SSEDecoder()
    assert d.feed(b"data: tail") == []
    assert [e.data for e in d.close()] == ["tail"]


def test_encoders():
    assert encode_chunk({"a": 1}) == b'data: {"a":1}\n\n'
    assert DONE == b"data: [DONE]\n\n"
    assert comment("x-gateway-cost-usd=0.1") == b": x-gateway-cost-usd=0.1\n\n"
