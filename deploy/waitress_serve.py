"""waitress-serve for Switchyard, stopping cleanly on SIGTERM: `python deploy/waitress_serve.py --listen=HOST:PORT
--threads=N wsgi:app` (the options of `waitress-serve`).

waitress installs no SIGTERM handler, so Python's default ends the process at once: the log rows still queued in
the background writer were lost. Here SIGTERM unwinds like Ctrl-C: waitress stops its task threads, then the
app's services shut down and flush the queued rows. Streams in flight are cut (a thread server has no per-stream drain).
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # `wsgi` from the checkout


def main() -> int:
    from waitress.runner import run
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # SIGTERM -> KeyboardInterrupt, as SIGINT
    try:
        return run(argv=["waitress-serve", *sys.argv[1:]]) or 0
    finally:
        wsgi = sys.modules.get("wsgi")                          # the app waitress loaded, if it got that far
        if wsgi is not None:
            wsgi.app.extensions["switchyard"].shutdown()        # flush the queued log rows (as worker_exit does)


if __name__ == "__main__":
    sys.exit(main())
