"""The only module that talks to the network: one pooled requests HTTPAdapter per worker, sized for gevent."""
import socket
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

from gateway import exceptions as exc
from gateway.values import UpstreamRequest


@dataclass
class UpstreamResponse:
    status: int
    headers: CaseInsensitiveDict
    content: bytes
    latency_ms: float

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


def seconds(value: float) -> str:
    """A duration for a message: 1.5, 30, 0.25 (never 1.48102)."""
    return f"{round(value, 2):g}"


def parse_retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


MAX_ANSWER_BYTES = 128 * 1024 * 1024     # a whole non-streaming answer
MAX_ERROR_BYTES = 1024 * 1024            # the body of an error answer to a stream request (its message is clipped)


class Transport:
    """Sends prepared requests through a pooled adapter; maps network failures to GatewayErrors.

    `Session.request` costs more per call than the send itself (settings merging, environment lookups,
    hooks), so requests are prepared by hand and go straight to the adapter. An answer longer than
    `max_answer_bytes` is the provider's fault (a worker's memory is not an upstream's to fill).
    """

    def __init__(self, pool_maxsize: int = 1000, connect_timeout_s: float = 5.0,
                 max_answer_bytes: int = MAX_ANSWER_BYTES):
        self.connect_timeout_s = connect_timeout_s
        self.max_answer_bytes = max_answer_bytes
        self.adapter = HTTPAdapter(pool_connections=64, pool_maxsize=pool_maxsize, max_retries=0, pool_block=False)

    def _prepare(self, req: UpstreamRequest) -> PreparedRequest:
        p = PreparedRequest()
        p.method = req.method
        p.url = req.url
        p.headers = CaseInsensitiveDict(req.headers)
        p.body = req.body
        if req.body is not None:
            p.headers["Content-Length"] = str(len(req.body))
        p.hooks = {"response": []}
        p._cookies = None
        p._body_position = None
        return p

    def send(self, req: UpstreamRequest, timeout_s: float, stream: bool = False) -> requests.Response:
        """Send and return the raw response (status not checked). Raises Timeout or ProviderUnavailable."""
        try:
            return self.adapter.send(self._prepare(req), stream=stream,
                                     timeout=(min(self.connect_timeout_s, timeout_s), timeout_s),
                                     verify=True, cert=None, proxies={})
        except requests.exceptions.Timeout as e:
            raise exc.Timeout(f"The provider did not answer within {seconds(timeout_s)} s.") from e
        except requests.exceptions.RequestException as e:
            raise exc.ProviderUnavailable(_unreached(e)) from e

    def call(self, req: UpstreamRequest, timeout_s: float) -> UpstreamResponse:
        """A whole non-streaming exchange within `timeout_s`: send, read the body, time it.

        The timeout bounds the whole call, not each socket read: an upstream that dribbles a byte at a time
        is cut at the deadline (a read timeout alone let one hold a 2 s call for 33 s)."""
        t0 = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        resp = self.send(req, timeout_s, stream=True)
        raw, parts, size = resp.raw, [], 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise exc.Timeout(f"The provider did not finish its answer within {seconds(timeout_s)} s.")
                _set_timeout(raw, left)
                data = raw.read1(65536)             # what has arrived: read() would wait for all 64 KiB
                if not data:
                    break
                size += len(data)
                if size > self.max_answer_bytes:
                    raise exc.ProviderUnavailable(f"The provider's answer passed {self.max_answer_bytes} bytes.",
                                                  upstream_status=resp.status_code)
                parts.append(data)
        except BaseException as e:
            _shut(raw)                             # a connection left mid-answer is never reused
            raw.close()
            if isinstance(e, exc.GatewayError) or not isinstance(e, Exception):
                raise
            if "timed out" in str(e).lower():
                raise exc.Timeout(f"The provider did not finish its answer within {seconds(timeout_s)} s.") from e
            raise exc.ProviderUnavailable("The provider closed the connection mid-answer.") from e
        raw.release_conn()                         # read to the end: back to the pool, kept alive
        return UpstreamResponse(resp.status_code, resp.headers, b"".join(parts), (time.perf_counter() - t0) * 1000)

    def open_stream(self, req: UpstreamRequest, timeout_s: float) -> "UpstreamStream":
        """Send and return once the upstream's status and headers are in; the body is read by `chunks()`."""
        t0 = time.perf_counter()
        resp = self.send(req, timeout_s, stream=True)
        return UpstreamStream(resp, (time.perf_counter() - t0) * 1000)

    def close(self) -> None:
        self.adapter.close()


# the root causes a failed send is told by (first match), and what the client is told for it
_CAUSES = (("ConnectionRefusedError", "Could not reach the provider: the connection was refused."),
           ("NameResolutionError", "Could not reach the provider: its host name does not resolve."),
           ("gaierror", "Could not reach the provider: its host name does not resolve."),
           ("SSLError", "Could not reach the provider: the TLS handshake failed."),
           ("ConnectionResetError", "The provider reset the connection before its answer."),
           ("RemoteDisconnected", "The provider closed the connection without an answer."),
           ("BadStatusLine", "The provider's answer is not HTTP."),
           ("LineTooLong", "The provider's answer is not HTTP (a line too long)."))


def _unreached(e: BaseException) -> str:
    """What a failed send means, from the causes requests and urllib3 wrap (ConnectionError <- ProtocolError <-
    ConnectionResetError...), for the client's message."""
    names, stack, seen = set(), [e], set()
    while stack and len(seen) < 20:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        names.add(type(x).__name__)
        stack += [a for a in getattr(x, "args", ()) if isinstance(a, BaseException)]
        stack += [getattr(x, "reason", None), x.__cause__, x.__context__]
    for name, message in _CAUSES:
        if name in names:
            return message
    return f"Could not reach the provider: {type(e).__name__}."


def _sock(raw):
    """The socket under a urllib3 response: the connection's, or (when http.client has already let go of it
    because the answer ends with the connection) the one under the response's file."""
    conn = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if sock is None:
        buffered = getattr(getattr(raw, "_fp", None), "fp", None)     # http.client.HTTPResponse.fp
        sock = getattr(getattr(buffered, "raw", None), "_sock", None)  # BufferedReader -> SocketIO -> socket
    return sock


def _set_timeout(raw, seconds: float) -> None:
    sock = _sock(raw)
    if sock is not None:
        sock.settimeout(max(0.001, seconds))


def _shut(raw) -> None:
    """Shut the connection's socket down (both ways): a read blocked on it in another thread or greenlet ends at
    once, and the upstream sees the connection go (it stops generating, and billing)."""
    sock = _sock(raw)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class UpstreamStream:
    """An upstream answer being read as it arrives (`read1`: whatever the socket has, chunked or not)."""

    READ_SIZE = 65536

    def __init__(self, resp: requests.Response, headers_ms: float):
        self._resp = resp
        self.status = resp.status_code
        self.headers = resp.headers
        self.headers_ms = headers_ms

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))

    def read_all(self, limit: int = MAX_ERROR_BYTES) -> bytes:
        """The body of an error answer, its first `limit` bytes at most; closes the stream."""
        raw, parts, size = self._resp.raw, [], 0
        try:
            while size < limit:
                data = raw.read1(min(self.READ_SIZE, limit - size))
                if not data:
                    break
                parts.append(data)
                size += len(data)
        except Exception:  # noqa: BLE001 - urllib3 / socket errors: what arrived is all there is
            pass
        finally:
            self.close()
        return b"".join(parts)

    def chunks(self):
        """Yield byte chunks as they arrive; raises ProviderUnavailable or Timeout when the connection fails."""
        raw = self._resp.raw
        try:
            while True:
                data = raw.read1(self.READ_SIZE)
                if not data:
                    return
                yield data
        except Exception as e:  # urllib3 / socket errors: the stream broke off
            if "timed out" in str(e).lower():
                raise exc.Timeout("The provider stopped sending in the middle of the stream.") from e
            raise exc.ProviderUnavailable("The provider's stream broke off.") from e

    def set_read_timeout(self, seconds: float) -> None:
        """The socket timeout of the reads after the headers (the stream's idle bound, not the route timeout)."""
        _set_timeout(self._resp.raw, seconds)

    def close(self) -> None:
        """Close the connection itself (not back to the pool): a stream cut short must stop the upstream. The
        socket is shut down first: the pump may be blocked reading it, and closing the buffered reader under
        it fails ("reentrant call"), which left the upstream open until its read timeout."""
        raw = self._resp.raw
        _shut(raw)
        try:
            raw.close()
        except Exception:  # noqa: BLE001 - the socket is shut already; the rest is best effort
            pass
        self._resp.close()
