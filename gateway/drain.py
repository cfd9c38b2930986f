"""Graceful shutdown of one worker process: the streams in flight, and cutting them when the grace runs out.

The worker class (gateway/server.py) calls `begin()` when the worker is told to stop and `cut_streams()` when its
grace period is over; every relay registers its upstream pump for as long as it runs. A cut stream ends with one
`shutting_down` error event and its log row, like any stream that fails after its first byte: it is not killed.
This is process state (one drain per worker), so it has one owner: this module.
"""
import threading

_lock = threading.Lock()     # relays (greenlets or threads) register while the worker's main loop reads
_streams: set = set()
_draining = False


def register(pump) -> None:
    with _lock:
        _streams.add(pump)


def unregister(pump) -> None:
    with _lock:
        _streams.discard(pump)


def in_flight() -> int:
    return len(_streams)


def draining() -> bool:
    return _draining


def begin() -> None:
    global _draining
    _draining = True


def cut_streams(err: Exception) -> int:
    """Interrupt every stream in flight with `err` (each relay sends it as its last event); returns how many."""
    with _lock:
        pumps = list(_streams)
    for pump in pumps:
        pump.interrupt(err)
    return len(pumps)
