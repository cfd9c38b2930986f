"""The deploy files say what they must: compose (replicas, health checks, volumes, migrations first, nginx), the
systemd unit (environment file, restarts, a stop timeout above gunicorn's grace, hardening; systemd-analyze
verify), the Dockerfile (pinned base, non-root, health check, entrypoint migrating before gunicorn, run here with
stand-ins), .dockerignore, and the nginx site (unbuffered SSE, keep-alive, limits matched to the gateway's)."""
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import pytest
import yaml

from gateway.config import BUILTIN_PROVIDERS
from tests.deploy.deploy_parse import (
    DEPLOY, ROOT, DockerIgnore, dockerfile_instructions, effective, env_file_names, env_names_read_by_gunicorn_conf,
    graceful_timeout_default, keepalive_default, nginx_parse, nginx_seconds, nginx_size, read, settings_defaults,
    unit_parse, worker_connections_default)

# --- compose ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(read("deploy", "compose.yaml"))


def test_compose_runs_two_gateway_replicas_behind_nginx_with_no_port_of_their_own(compose):
    services = compose["services"]
    assert {"gateway", "postgres", "redis", "migrate", "nginx"} <= set(services)
    gateway = services["gateway"]
    assert gateway["deploy"]["replicas"] == 2
    assert "ports" not in gateway                     # two replicas cannot publish one host port; nginx does
    assert gateway["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    nginx_needs = services["nginx"]["depends_on"]["gateway"]
    assert services["nginx"]["ports"] and nginx_needs["condition"] == "service_healthy"
    assert nginx_needs["restart"] is True              # nginx keeps the replicas' addresses until it restarts
    assert int(gateway["ulimits"]["nofile"]) >= 2 * worker_connections_default() + 1024
    # Docker's default stop timeout is 10 s: the streams in flight need their graceful time
    grace = re.fullmatch(r"(\d+)s", str(gateway["stop_grace_period"]))
    assert grace and int(grace.group(1)) > graceful_timeout_default()


def test_compose_migrates_once_in_a_one_shot_service_and_the_replicas_do_not(compose):
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == "flask --app app db upgrade"
    assert migrate.get("restart") == "no"             # a one-shot: it must exit, not be restarted
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["gateway"]["environment"]["SWITCHYARD_MIGRATE"] == "0"
    assert migrate["build"] == services["gateway"]["build"] and migrate["image"] == services["gateway"]["image"]
    assert migrate["environment"]["DATABASE_URL"] == services["gateway"]["environment"]["DATABASE_URL"]


def test_compose_settings_come_from_the_operator(compose):
    env = compose["services"]["gateway"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:")
    # `${VAR:?message}`: compose refuses to start when the operator did not set it (no default secret)
    assert re.fullmatch(r"\$\{SWITCHYARD_SECRET_KEY:\?[^}]+\}", env["SWITCHYARD_SECRET_KEY"])
    assert re.search(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", env["DATABASE_URL"])
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}",
                        compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"])
    assert env["HOST"] == "0.0.0.0"


def test_compose_state_is_on_named_volumes_and_the_stores_have_health_checks(compose):
    services, volumes = compose["services"], compose["volumes"]
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        svc = services[name]
        assert svc["healthcheck"]["test"], name
        mounts = dict(v.split(":", 1) for v in svc["volumes"])
        named = [src for src, dst in mounts.items() if dst.split(":")[0] == path]
        assert named and named[0] in volumes, f"{name}'s data is not on a named volume"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    for name in ("postgres", "redis", "nginx"):       # pinned to a release (PostgreSQL's are major.minor)
        assert re.fullmatch(r"[a-z]+:\d+(\.\d+){1,2}-bookworm", services[name]["image"]), services[name]["image"]


def test_compose_nginx_serves_the_site_file_with_its_upstream_pointed_at_the_replicas(compose, tmp_path):
    nginx = compose["services"]["nginx"]
    mounts = [v.split(":") for v in nginx["volumes"]]
    site = [m for m in mounts if os.path.normpath(os.path.join(DEPLOY, m[0])) ==
            os.path.join(DEPLOY, "nginx", "switchyard.conf")]
    assert site, "compose does not mount deploy/nginx/switchyard.conf"
    command = nginx["command"][-1]
    assert site[0][1] in command and "exec nginx" in command
    # run the rewrite compose runs, on the real file: exactly the upstream server line changes
    expr = re.search(r"sed '([^']+)'", command).group(1)
    original = read("deploy", "nginx", "switchyard.conf")
    rewritten = subprocess.run(["sed", expr], input=original, capture_output=True, text=True, check=True).stdout
    changed = [(a, b) for a, b in zip(original.splitlines(), rewritten.splitlines()) if a != b]
    port = compose["services"]["gateway"]["environment"]["PORT"]
    assert [b.strip() for _, b in changed] == [f"server gateway:{port};"]


# --- systemd unit ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unit() -> dict:
    return unit_parse(read("deploy", "switchyard.service"))


def test_unit_reads_its_settings_from_an_environment_file_and_migrates_before_serving(unit):
    svc = unit["Service"]
    assert svc["EnvironmentFile"] == ["/etc/switchyard/switchyard.env"]
    (pre,) = svc["ExecStartPre"]
    assert pre.split()[0].endswith("/flask") and pre.split()[1:] == ["--app", "app", "db", "upgrade"]
    (start,) = svc["ExecStart"]
    assert start.split()[0].endswith("/gunicorn") and start.split()[1:] == ["-c", "deploy/gunicorn.conf.py",
                                                                            "wsgi:app"]
    assert os.path.dirname(os.path.dirname(os.path.dirname(start.split()[0]))) == svc["WorkingDirectory"][0]
    assert svc["User"] != ["root"] and svc["User"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_unit_stops_gracefully_within_a_timeout_just_above_gunicorns_grace(unit):
    svc = unit["Service"]
    assert svc["Restart"] == ["on-failure"]
    assert svc["KillSignal"] == ["SIGTERM"]
    assert svc["KillMode"] == ["mixed"]               # SIGTERM to the master only; it stops its workers itself
    stop = float(svc["TimeoutStopSec"][0])
    grace = graceful_timeout_default()
    assert grace < stop <= grace + 120, f"TimeoutStopSec={stop} does not go with graceful_timeout={grace}"
    assert str(int(grace)) in read("deploy", "switchyard.service")   # the comment names the grace it goes with


def test_unit_is_hardened_and_can_write_only_its_instance_dir(unit):
    svc = unit["Service"]
    expected = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
                "ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes",
                "LockPersonality": "yes", "CapabilityBoundingSet": ""}
    for key, value in expected.items():
        assert svc.get(key) == [value], f"{key}={svc.get(key)}"
    families = set(svc["RestrictAddressFamilies"][-1].split())
    assert families == {"AF_INET", "AF_INET6", "AF_UNIX"}
    env = dict(kv.split("=", 1) for line in svc["Environment"] for kv in line.split())
    instance = env["SWITCHYARD_INSTANCE_DIR"]
    assert instance in svc["ReadWritePaths"][0].split()
    assert instance == "/var/lib/" + svc["StateDirectory"][0]          # systemd creates it, owned by User=
    # each connection holds a client socket and an upstream one; the default soft limit (1024) is far too low
    assert int(svc["LimitNOFILE"][0]) >= 2 * worker_connections_default() + 1024


def test_unit_passes_systemd_analyze_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # verify checks that the commands exist: point the install directory (/opt/switchyard) at this checkout
    text = read("deploy", "switchyard.service")
    assert "/opt/switchyard/.venv/bin/" in text
    path = tmp_path / "switchyard.service"
    path.write_text(text.replace("/opt/switchyard", ROOT))
    out = subprocess.run([tool, "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60)
    # it exits 0 on unknown keys and bad values too, and says so: anything said about the unit is a failure
    said = [line for line in (out.stdout + out.stderr).splitlines() if "switchyard.service" in line]
    assert out.returncode == 0 and not said, out.stdout + out.stderr


def test_systemd_analyze_verify_reports_what_the_test_rejects(tmp_path):
    """The check above can fail: a typo in a key is reported (with exit code 0, hence the output check)."""
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    path = tmp_path / "switchyard.service"
    path.write_text(read("deploy", "switchyard.service").replace("/opt/switchyard", ROOT)
                    .replace("ProtectHome=yes", "ProtectHomes=yes"))
    out = subprocess.run([tool, "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60)
    assert "ProtectHomes" in out.stdout + out.stderr


def test_env_example_lists_every_setting_of_the_gateway_and_of_gunicorn():
    active, commented = env_file_names(read("deploy", "switchyard.env.example"))
    listed = set(active) | commented
    settings = {f.metadata["env"] for f in settings_defaults().__dataclass_fields__.values() if f.metadata.get("env")}
    providers = {key_env for _, _, key_env in BUILTIN_PROVIDERS.values()}
    missing = (settings | providers | env_names_read_by_gunicorn_conf() | {"HOST", "PORT", "SWITCHYARD_KEEPALIVE_S"}) \
        - listed
    assert not missing, f"deploy/switchyard.env.example does not mention {sorted(missing)}"
    assert active["DATABASE_URL"].startswith("postgresql://")
    assert "SWITCHYARD_SECRET_KEY" in active                         # production sets it; the unit must not guess
    assert not active.get("SWITCHYARD_GRACEFUL_TIMEOUT") or \
        float(active["SWITCHYARD_GRACEFUL_TIMEOUT"]) < float(unit_parse(read("deploy", "switchyard.service"))
                                                             ["Service"]["TimeoutStopSec"][0])


# --- Dockerfile and its entrypoint -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(read("deploy", "Dockerfile"))


def _only(instructions, name):
    found = [args for instr, args in instructions if instr == name]
    assert len(found) == 1, f"{len(found)} {name} instructions"
    return found[0]


def test_dockerfile_base_is_an_exact_python_311_slim_bookworm_release(dockerfile):
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", _only(dockerfile, "FROM"))


def test_dockerfile_installs_pinned_requirements_without_a_cache_and_runs_as_a_user(dockerfile):
    runs = [args for instr, args in dockerfile if instr == "RUN"]
    assert any(re.search(r"pip install --no-cache-dir -r requirements\.txt", r) for r in runs)
    order = [instr for instr, _ in dockerfile]
    user = [args for instr, args in dockerfile if instr == "USER"]
    assert user and order.index("USER") > max(i for i, ins in enumerate(order) if ins == "RUN")
    name = user[-1].split(":")[0]
    assert name not in ("root", "0", "")
    # the user exists in the image: created by a RUN with that uid (or name)
    assert any("useradd" in r and (f"--uid {name}" in r or r.rstrip().endswith(f" {name}")) for r in runs)


def test_dockerfile_healthcheck_asks_healthz_with_python_and_fails_on_an_error(dockerfile, tmp_path):
    check = _only(dockerfile, "HEALTHCHECK")
    assert "curl" not in check and "wget" not in check          # neither is in the slim image
    argv = json.loads(check[check.index("CMD") + 3:].strip())
    assert argv[:2] == ["python", "-c"]
    seen, status = [], {"code": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(status["code"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "PORT": str(server.server_address[1])}
    try:
        ok = subprocess.run(["python3", *argv[1:]], env=env, capture_output=True, timeout=30)
        status["code"] = 503
        failing = subprocess.run(["python3", *argv[1:]], env=env, capture_output=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["/healthz", "/healthz"]
    assert ok.returncode == 0, ok.stderr
    assert failing.returncode != 0


def test_dockerfile_entrypoint_is_the_script_and_its_shell_is_valid(dockerfile):
    entry = json.loads(_only(dockerfile, "ENTRYPOINT"))
    assert entry[-1] == "/app/deploy/docker-entrypoint.sh" and _only(dockerfile, "WORKDIR") == "/app"
    assert not [args for instr, args in dockerfile if instr == "CMD"]  # the entrypoint decides what runs
    out = subprocess.run(["sh", "-n", os.path.join(DEPLOY, "docker-entrypoint.sh")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.fixture
def stand_ins(tmp_path):
    """A PATH whose `flask` and `gunicorn` only write down how they were called (and `flask` fails on demand)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    for name in ("flask", "gunicorn"):
        script = bindir / name
        script.write_text(f'#!/bin/sh\necho "{name} $* | HOST=$HOST PORT=$PORT | $(pwd)" >> "{calls}"\n'
                          f'[ "{name}" = flask ] && [ -n "$FAIL_MIGRATION" ] && exit 3\nexit 0\n')
        script.chmod(0o755)

    def run(*args, **env):
        base = {"PATH": f"{bindir}:/usr/bin:/bin"}
        out = subprocess.run(["sh", os.path.join(DEPLOY, "docker-entrypoint.sh"), *args],
                             env={**base, **env}, capture_output=True, text=True, timeout=30)
        lines = calls.read_text().splitlines() if calls.exists() else []
        if calls.exists():
            calls.unlink()
        return out.returncode, lines
    return run


def test_entrypoint_migrates_then_becomes_gunicorn_on_all_interfaces(stand_ins):
    code, calls = stand_ins()
    assert code == 0
    assert calls == [f"flask --app app db upgrade | HOST=0.0.0.0 PORT=8080 | {ROOT}",
                     f"gunicorn -c deploy/gunicorn.conf.py wsgi:app | HOST=0.0.0.0 PORT=8080 | {ROOT}"]
    code, calls = stand_ins(HOST="127.0.0.1", PORT="9000")
    assert calls[-1] == f"gunicorn -c deploy/gunicorn.conf.py wsgi:app | HOST=127.0.0.1 PORT=9000 | {ROOT}"


def test_entrypoint_does_not_serve_when_the_migration_fails(stand_ins):
    code, calls = stand_ins(FAIL_MIGRATION="1")
    assert code == 3 and [c.split(" |")[0] for c in calls] == ["flask --app app db upgrade"]


def test_entrypoint_skips_the_migration_when_told_and_runs_a_given_command_as_is(stand_ins):
    code, calls = stand_ins(SWITCHYARD_MIGRATE="0")
    assert code == 0 and [c.split(" |")[0] for c in calls] == ["gunicorn -c deploy/gunicorn.conf.py wsgi:app"]
    code, calls = stand_ins("flask", "--app", "app", "db", "upgrade")    # compose's migrate service
    assert code == 0 and [c.split(" |")[0] for c in calls] == ["flask --app app db upgrade"]


def test_dockerignore_keeps_what_the_image_needs_and_leaves_out_the_rest():
    ignore = DockerIgnore.parse(read(".dockerignore"))
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    needed = [p for p in tracked if p.split("/")[0] in ("gateway", "models", "schemas", "migrations")
              or p in ("app.py", "wsgi.py", "requirements.txt", "deploy/gunicorn.conf.py")]
    needed.append("deploy/docker-entrypoint.sh")
    assert len(needed) > 20 and not [p for p in needed if ignore.excluded(p)]
    for path in (".git/config", ".venv/bin/python", "instance/secret.key", "gateway/__pycache__/app.cpython-311.pyc",
                 "tests/conftest.py", ".env", "deploy/prod.env"):
        assert ignore.excluded(path), path


# --- nginx site -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site():
    root = nginx_parse(read("deploy", "nginx", "switchyard.conf"))
    (server,) = root.all("server")
    location = next(d for d in server.all("location") if d.args == ["/"])
    return root, server, location


def test_nginx_streams_unbuffered_over_kept_alive_http11_connections(site):
    root, server, location = site
    assert effective("proxy_buffering", server, location) == [["off"]]
    assert effective("proxy_http_version", server, location) == [["1.1"]]
    headers = {args[0].lower(): args[1] for args in effective("proxy_set_header", server, location)}
    assert headers["connection"] == ""                 # no "Connection: close" to the gateway
    (upstream,) = root.all("upstream")
    assert location.one("proxy_pass").args == [f"http://{upstream.args[0]}"]
    assert int(upstream.one("keepalive").args[0]) > 0
    # nginx must drop an idle connection before the gateway does, or a request can meet a closing socket
    assert nginx_seconds(upstream.one("keepalive_timeout").args[0]) < keepalive_default()
    # the one line compose and the tests rewrite
    assert [d.args for d in upstream.all("server")] == [["127.0.0.1:8080"]]


def test_nginx_limits_match_the_gateways_settings(site):
    _, server, location = site
    defaults = settings_defaults()
    (size,) = effective("client_max_body_size", server, location)
    assert nginx_size(size[0]) == defaults.MAX_BODY_BYTES
    (read_timeout,) = effective("proxy_read_timeout", server, location)
    assert nginx_seconds(read_timeout[0]) > defaults.STREAM_MAX_S
    assert nginx_seconds(read_timeout[0]) > defaults.TOTAL_DEADLINE_S
    (send_timeout,) = effective("proxy_send_timeout", server, location)
    assert nginx_seconds(send_timeout[0]) > defaults.STREAM_MAX_S


def test_nginx_passes_the_clients_request_id_to_the_gateway(site):
    root, server, location = site
    headers = {args[0].lower(): args[1] for args in effective("proxy_set_header", server, location)}
    value = headers["x-request-id"]
    if value != "$http_x_request_id":                  # through a map that falls back to nginx's own id
        (mapping,) = [m for m in root.all("map") if m.args == ["$http_x_request_id", value]]
        pairs = {d.name: d.args for d in mapping.block}
        assert pairs["default"] == ["$http_x_request_id"] and pairs[""] == ["$request_id"]


def test_nginx_keeps_metrics_off_the_public_listener(site):
    _, server, _ = site
    (metrics,) = [d for d in server.all("location") if d.args == ["=", "/metrics"]]
    assert [d.args for d in metrics.all("deny")] == [["all"]]
