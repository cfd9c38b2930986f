"""Reading the request log row of one request in API tests (the writer is flushed; streams may end later)."""
import time

from sqlalchemy import select

from models import RequestLog


def log_row(services, request_id: str, wait_s: float = 5.0) -> RequestLog:
    deadline = time.time() + wait_s
    while True:
        services.log_writer.flush()
        with services.sessionmaker() as s:
            row = s.scalar(select(RequestLog).where(RequestLog.request_id == request_id))
        if row is not None or time.time() > deadline:
            assert row is not None, f"no log row for {request_id}"
            return row
        time.sleep(0.05)
