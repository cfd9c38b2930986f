"""gunicorn settings for Switchyard: gevent workers sized for many concurrent (and long streaming) requests."""
import multiprocessing
import os
import shutil
import tempfile

# Prometheus metrics add up across workers in multiprocess mode: the directory must be set before any worker
# imports prometheus_client, and emptied when the server starts. A directory we made ourselves is removed when
# the server stops (on_exit); one the operator named is only emptied.
_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="switchyard-metrics-")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
# Limits are counted in Redis when REDIS_URL is set, shared by every worker and host. Without it they are counted
# in the worker's memory, so a host without Redis runs one worker: a limit is never multiplied by the workers.
_asked_workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
workers = _asked_workers if os.environ.get("REDIS_URL") else 1
LIMITS_NOTE = (f"REDIS_URL is set: {workers} workers share the limit counters in Redis" if os.environ.get("REDIS_URL")
               else "no REDIS_URL: one worker (%d with Redis), so request, token, budget and quota limits are "
                    "counted exactly in one place; set REDIS_URL to run more workers or hosts" % _asked_workers)
# gevent's pywsgi server (measurably cheaper per request than gunicorn's own "gevent" parser), with an idle
# keep-alive timeout (SWITCHYARD_KEEPALIVE_S, default 5 s) so idle connections do not hold a graceful shutdown.
worker_class = os.environ.get("SWITCHYARD_WORKER_CLASS", "gateway.server.GeventWorker")
worker_connections = int(os.environ.get("SWITCHYARD_WORKER_CONNECTIONS", "2000"))
timeout = int(os.environ.get("SWITCHYARD_WORKER_TIMEOUT", "120"))      # heartbeat; gevent workers keep beating
# Streams in flight get this long to finish after SIGTERM; then each worker cuts the rest with an error event and
# flushes its log rows before the master's SIGKILL at this same deadline (gateway/server.py). A systemd unit's
# TimeoutStopSec must be longer (deploy/switchyard.service).
graceful_timeout = int(os.environ.get("SWITCHYARD_GRACEFUL_TIMEOUT", "300"))
max_requests = int(os.environ.get("SWITCHYARD_MAX_REQUESTS", "0"))
max_requests_jitter = 100 if max_requests else 0
# The gateway writes its own JSON access line per request (SWITCHYARD_ACCESS_LOG=json); gunicorn's own access log
# is off unless named here ("-" for stdout).
accesslog = os.environ.get("SWITCHYARD_GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("SWITCHYARD_LOG_LEVEL", "info")
limit_request_line = 8190
# gunicorn 27's control socket lives at one path per user: several gateways on a host would fight over it.
control_socket_disable = os.environ.get("SWITCHYARD_CONTROL_SOCKET", "") == ""
if not control_socket_disable:
    control_socket = os.environ["SWITCHYARD_CONTROL_SOCKET"]
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def worker_exit(server, worker):
    """Flush the request logs of this worker before it goes (graceful shutdown, max_requests, reload)."""
    try:
        from wsgi import app
        app.extensions["switchyard"].shutdown()
    except Exception:  # noqa: BLE001 - never block the exit
        server.log.exception("flushing request logs on worker exit failed")


def post_worker_init(worker):
    """The app is loaded: warm it (catalog, background threads, adapters) so the first request pays for none of
    it, then move every object made so far into the permanent generation, so the collector never walks the
    import-time heap again (full collections of it paused a worker for ~80 ms), and collect less often."""
    import gc
    import sys

    try:
        from gateway.providers import adapter_for
        from wsgi import app
        app.extensions["switchyard"].start()
        for wire in ("openai", "anthropic", "gemini"):
            adapter_for(wire)
    except Exception:  # noqa: BLE001 - a failed warm-up is retried by the first request
        worker.log.exception("warming the worker failed")
    # The log writer and catalog reload run in native threads; when one holds the GIL, a request waiting for it
    # waits up to the switch interval (5 ms by default): keep that short so they never show in request latency.
    sys.setswitchinterval(0.0005)
    gc.collect()
    gc.freeze()
    gc.set_threshold(5000, 20, 20)


def on_starting(server):
    """Refuse a database whose schema is behind the code once, before any worker starts (gateway/startup.py), in a
    process of its own so the master carries none of the app's imports; then empty the metrics directory."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    check = subprocess.run([sys.executable, "-m", "gateway.startup"], cwd=root, env=os.environ)
    if check.returncode != 0:
        raise SystemExit(check.returncode)
    # a warning only when the operator asked for more workers than run
    asked = int(os.environ.get("WEB_CONCURRENCY") or 1)
    (server.log.info if os.environ.get("REDIS_URL") or asked == 1 else server.log.warning)(LIMITS_NOTE)
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
