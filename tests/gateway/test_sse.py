"""The SSE decoder at the byte level: every split of the input gives the same events."""
import pytest

from gateway.sse import DONE, EventTooLarge, SSEDecoder, comment, encode_chunk


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


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_a_long_event_over_many_reads_is_joined_whole(step):
    """A megabyte line over many reads (kept in pieces, joined once when it ends), with CRLF, CR and LF."""
    text = "é" * 300_000 + "x" * 400_000
    raw = f"data: {text}\r\n\r\ndata: b\rdata: c\r\rdata: d\n\n".encode()
    assert _decode_in_pieces(raw, step) == [(None, text), (None, "b\nc"), (None, "d")]


@pytest.mark.parametrize("raw", [b"data: " + b"x" * 101, b"data: " + b"x" * 60 + b"\ndata: " + b"y" * 60 + b"\n",
                                 b"x" * 200])
def test_a_line_or_event_past_the_limit_is_refused(raw):
    d = SSEDecoder(max_event_chars=100)
    with pytest.raises(EventTooLarge, match="100 characters"):
        for i in range(0, len(raw), 16):
            d.feed(raw[i:i + 16])


def test_events_under_the_limit_each_pass():
    d = SSEDecoder(max_event_chars=100)
    events = []
    for _ in range(50):
        events += d.feed(b"data: " + b"x" * 90 + b"\n\n")
    assert len(events) == 50


def test_encoders():
    assert encode_chunk({"a": 1}) == b'data: {"a":1}\n\n'
    assert DONE == b"data: [DONE]\n\n"
    assert comment("x-gateway-cost-usd=0.1") == b": x-gateway-cost-usd=0.1\n\n"
