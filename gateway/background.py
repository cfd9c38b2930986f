"""Native threads for blocking background work (log inserts, catalog reloads): under gevent's monkey patching a
`threading.Thread` is a greenlet, and a blocking database call in it stalls every request of the worker."""
import sys


def _original(module: str, name: str):
    if "gevent.monkey" in sys.modules:
        from gevent import monkey
        if monkey.is_module_patched(module):
            return monkey.get_original(module, name)
    return getattr(__import__(module), name)


def start_native_thread(target, name: str) -> None:
    """Run `target()` in a real OS thread (a plain thread when gevent has not patched threading)."""
    if "gevent.monkey" in sys.modules:
        from gevent import monkey
        if monkey.is_module_patched("threading"):
            monkey.get_original("_thread", "start_new_thread")(target, ())
            return
    import threading
    threading.Thread(target=target, name=name, daemon=True).start()


def native_sleep(seconds: float) -> None:
    _original("time", "sleep")(seconds)


def native_lock():
    """A lock that works between the native background thread and the event loop's thread."""
    return _original("threading", "Lock")()


def native_queue():
    """The C SimpleQueue: put() never blocks, get_nowait() is safe from any thread."""
    return _original("queue", "SimpleQueue")()


class BatchWriter:
    """Items queued by the request path (put() never blocks), written in batches by a native thread every
    `flush_interval_s`: the shape of the request log writer and the response store. A subclass writes a batch in
    `_write(items)`; `flush()` writes everything queued now, `close()` flushes and stops the thread."""
    thread_name = "batch-writer"

    def __init__(self, flush_interval_s: float, batch_size: int):
        self._interval, self._batch = flush_interval_s, batch_size
        self._q = native_queue()
        self._lock = native_lock()
        self._started = self._stopping = False

    @property
    def pending(self) -> int:
        return self._q.qsize()

    def submit(self, item) -> None:
        self._q.put(item)
        if not self._started:
            with self._lock:
                if not self._started and not self._stopping:
                    self._started = True
                    start_native_thread(self._loop, self.thread_name)

    def _loop(self) -> None:
        import logging
        while not self._stopping:
            native_sleep(self._interval)
            try:
                self.flush()
                self.after_flush()
            except Exception:  # noqa: BLE001 - the writer must outlive any one failure
                logging.getLogger(f"switchyard.{self.thread_name}").exception("%s flush failed", self.thread_name)

    def after_flush(self) -> None:
        """Called in the writer's thread after each beat's flush."""

    def _take(self) -> list:
        import queue
        items = []
        while len(items) < self._batch:
            try:
                items.append(self._q.get_nowait())
            except queue.Empty:
                break
        return items

    def flush(self) -> int:
        """Write everything queued now; returns the number of items handled."""
        done = 0
        with self._lock:
            while True:
                items = self._take()
                if not items:
                    return done
                self._write(items)
                done += len(items)

    def _write(self, items: list) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stopping = True
        self.flush()
