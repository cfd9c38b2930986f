"""Limits on real servers, run the way operators run them: the embedded default as `make run` starts it (gunicorn
from deploy/gunicorn.conf.py, SQLite, no Redis: one worker, said in the log) serves a `--rpm 5` key exactly 5 of 6
times; a malformed SWITCHYARD_RATELIMIT_DEFAULT stops the server at startup naming the variable."""
import requests

from tests.support.procs import Gateway, flask, prepared_env


def _no_redis(env: dict) -> dict:
    env = {k: v for k, v in env.items() if k not in ("REDIS_URL", "WEB_CONCURRENCY")}
    return env


def test_the_embedded_default_counts_a_key_rate_exactly(tmp_path, double):
    env, _ = prepared_env(tmp_path, double.url)
    env = _no_redis(env)
    key = flask(env, "keys", "create", "--name", "five", "--rpm", "5").stdout.strip().splitlines()[-1]
    gw = Gateway(env, tmp_path / "g.log", "make run").start()
    try:
        codes = []
        for _ in range(6):
            r = requests.post(f"{gw.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=10,
                              json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
            codes.append(r.status_code)
        assert codes == [200] * 5 + [429]
    finally:
        gw.stop(timeout_s=30)
    log = gw.output()
    assert log.count("Booting worker") == 1
    assert "no REDIS_URL: one worker" in log and "set REDIS_URL to run more workers or hosts" in log


def test_a_malformed_default_rate_stops_the_server_naming_it(tmp_path, double):
    env, _ = prepared_env(tmp_path, double.url, SWITCHYARD_RATELIMIT_DEFAULT="600 a minute")
    gw = Gateway(env, tmp_path / "bad.log", "bad default")
    try:
        gw.start(timeout_s=20)
        raise AssertionError("the server started with a malformed SWITCHYARD_RATELIMIT_DEFAULT")
    except AssertionError as e:
        assert "exited with" in str(e), str(e)
    log = gw.output()
    assert "SWITCHYARD_RATELIMIT_DEFAULT is not a rate limit: '600 a minute'" in log
    assert "Traceback" not in log
