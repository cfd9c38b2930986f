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
