"""Sequential streaming requests over one keep-alive connection, timed at the socket: wrk cannot see first bytes.

For each request: the time to the first byte of the response (the status line), to the first SSE `data:` event,
and to the end of the answer (the last chunk of a chunked body, Content-Length, or the connection closing).
"""
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Timing:
    status: int
    first_byte_ms: float
    first_data_ms: float | None
    total_ms: float
    events: int
    done: bool
    error: str | None = None


class _Connection:
    def __init__(self, host: str, port: int, timeout_s: float):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.sock: socket.socket | None = None
        self.buf = b""

    def open(self) -> None:
        self.close()
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def recv(self) -> bytes:
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("closed by the server")
        return data


def _exchange(conn: _Connection, raw: bytes) -> Timing:
    if conn.sock is None:
        conn.open()
    t0 = time.perf_counter()
    conn.sock.sendall(raw)
    first_byte = first_data = None
    buf = conn.buf
    while b"\r\n\r\n" not in buf:
        data = conn.recv()
        if first_byte is None:
            first_byte = time.perf_counter()
        buf += data
    if first_byte is None:             # left over from the previous answer (should not happen)
        first_byte = time.perf_counter()
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    chunked = "chunked" in hdrs.get("transfer-encoding", "").lower()
    length = int(hdrs["content-length"]) if "content-length" in hdrs else None
    keep = hdrs.get("connection", "").lower() != "close"
    body = bytearray()
    events = 0
    scan_from = 0

    def seen_now(t: float) -> None:
        nonlocal first_data, events, scan_from
        while True:
            j = body.find(b"data:", scan_from)
            if j < 0:
                scan_from = max(scan_from, len(body) - 4)
                return
            if first_data is None:
                first_data = t
            events += 1
            scan_from = j + 5

    pending = rest
    finished = False
    t_now = first_byte
    while not finished:
        if chunked:
            while True:                       # decode every complete chunk we hold
                nl = pending.find(b"\r\n")
                if nl < 0:
                    break
                size = int(pending[:nl].split(b";")[0], 16)
                if size == 0:
                    if pending.find(b"\r\n\r\n", nl) >= 0 or pending[nl:nl + 4] == b"\r\n\r\n":
                        end = pending.find(b"\r\n\r\n", nl)
                        pending = pending[end + 4:]
                        finished = True
                    break
                if len(pending) < nl + 2 + size + 2:
                    break
                body += pending[nl + 2:nl + 2 + size]
                pending = pending[nl + 2 + size + 2:]
            seen_now(t_now)
        elif length is not None:
            take = min(length - len(body), len(pending))
            body += pending[:take]
            pending = pending[take:]
            seen_now(t_now)
            finished = len(body) >= length
        else:
            body += pending
            pending = b""
            seen_now(t_now)
        if finished:
            break
        try:
            data = conn.recv()
        except ConnectionError:
            if chunked or length is not None:
                raise
            keep = False
            break
        t_now = time.perf_counter()
        pending += data
    t_end = time.perf_counter()
    conn.buf = pending
    if not keep:
        conn.close()
    return Timing(status, (first_byte - t0) * 1000, (first_data - t0) * 1000 if first_data else None,
                  (t_end - t0) * 1000, events, b"data: [DONE]" in body)


def run(url: str, body: bytes, headers: dict[str, str], n: int, warmup: int = 10,
        timeout_s: float = 30.0) -> list[Timing]:
    """n sequential POSTs to url (after `warmup` untimed ones), reusing one connection while the server allows."""
    u = urlsplit(url)
    host, port = u.hostname, u.port or 80
    path = u.path + (f"?{u.query}" if u.query else "")
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            "Accept: text/event-stream", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    conn = _Connection(host, port, timeout_s)
    out: list[Timing] = []
    try:
        for i in range(warmup + n):
            try:
                t = _exchange(conn, raw)
            except (OSError, ValueError, IndexError) as e:
                conn.close()
                t = Timing(0, 0.0, None, 0.0, 0, False, f"{type(e).__name__}: {e}")
            if i >= warmup:
                out.append(t)
    finally:
        conn.close()
    return out
