"""Real gateway processes for the deploy tests, on the shared process helper (tests/support/procs.py)."""
from tests.support.procs import BIN, ROOT, Gateway, free_port, gunicorn_argv, prepared_env

__all__ = ["BIN", "ROOT", "ServerProc", "free_port", "gunicorn_argv", "prepared_env", "start_gunicorn"]


def ServerProc(argv: list[str], env: dict, port: int, log_path) -> Gateway:   # noqa: N802 - the tests' name for it
    return Gateway(env, log_path, argv[0].rsplit("/", 1)[-1], argv=argv, port=port)


def start_gunicorn(tmp_path, double_url: str, *extra_args: str, **extra_env) -> tuple[Gateway, str]:
    """gunicorn from deploy/gunicorn.conf.py on a prepared database; (server, key)."""
    env, key = prepared_env(tmp_path, double_url, **extra_env)
    # gunicorn.conf.py empties it at start (a directory of its own would be left behind in /tmp)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    return Gateway(env, tmp_path / "gunicorn.log", argv=gunicorn_argv(*extra_args)).start(), key
