"""A setting that cannot be used, or a database that does not answer, ends in one line naming the variable at
fault: in the flask CLI (which builds the app before any command), in the check gunicorn's master runs before any
worker starts, and in the app itself. Never a traceback, never a password."""
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from app import create_app
from gateway.config import SettingError
from tests.support.procs import BIN, ROOT, free_port, gunicorn_argv

GOOD_KEY = Fernet.generate_key().decode()
DEAD_DB = "postgresql://bob:hunter2-secret@127.0.0.1:1/switchyard"     # port 1: nothing listens


def _env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SWITCHYARD_") and k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({"SWITCHYARD_INSTANCE_DIR": str(tmp_path / "instance"), "TMPDIR": str(tmp_path),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SWITCHYARD_SECRET_KEY": GOOD_KEY})
    env.update(extra)
    return env


def _one_line(out: subprocess.CompletedProcess, *words: str) -> str:
    """The process failed with one error line holding `words`, and nothing that looks like a traceback."""
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "Traceback" not in text and 'File "' not in text, text
    lines = [line for line in text.splitlines() if all(w in line for w in words)]
    assert len(lines) == 1, text
    return lines[0]


def _flask(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(BIN, "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_bootstrap_with_an_unreachable_database_is_one_line_naming_database_url_without_its_password(tmp_path):
    out = _flask(_env(tmp_path, DATABASE_URL=DEAD_DB), "bootstrap")
    line = _one_line(out, "DATABASE_URL")
    assert line.startswith("Error: the database at DATABASE_URL=postgresql://bob:***@127.0.0.1:1/switchyard is not "
                           "reachable: ") and "Connection refused" in line
    assert "hunter2" not in out.stdout + out.stderr
    assert len((out.stdout + out.stderr).strip().splitlines()) == 1


@pytest.mark.parametrize("variable, value, words", [
    ("SWITCHYARD_KEY_CACHE_TTL_S", "30s", "must be a number; got '30s'"),
    ("SWITCHYARD_MAX_BODY_BYTES", "32MB", "must be a whole number; got '32MB'"),
    ("SWITCHYARD_COOLDOWN_S", "inf", "must be a finite number"),
    ("SWITCHYARD_SECRET_KEY", "not-a-fernet-key", "is not a Fernet key (16 characters)"),
    ("SWITCHYARD_SECRET_KEY", f"{GOOD_KEY},short", "key 2 of 2 in SWITCHYARD_SECRET_KEY is not a Fernet key"),
    ("DATABASE_URL", "postgres//nowhere", "is not a database URL"),
    ("REDIS_URL", "127.0.0.1:6379", "must start with redis://"),
    ("SWITCHYARD_CORS_ORIGINS", "https://app.example.com/path", "takes comma-separated origins"),
])
def test_a_malformed_setting_stops_a_cli_command_in_one_line_naming_it(tmp_path, variable, value, words):
    out = _flask(_env(tmp_path, **{variable: value}), "keys", "list")
    line = _one_line(out, variable)
    assert line.startswith("Error: ") and words in line
    if variable == "SWITCHYARD_SECRET_KEY":
        assert "not-a-fernet-key" not in line and "short" not in line.split("characters")[0]   # never the key


def test_a_malformed_key_in_the_instance_file_names_the_file(tmp_path):
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "secret.key").write_text("garbage\n")
    env = _env(tmp_path)
    del env["SWITCHYARD_SECRET_KEY"]
    line = _one_line(_flask(env, "keys", "list"), "secret.key")
    assert f"{tmp_path / 'instance' / 'secret.key'} is not a Fernet key" in line


@pytest.mark.parametrize("variable, value", [("SWITCHYARD_SECRET_KEY", "abc"),
                                             ("SWITCHYARD_KEY_CACHE_TTL_S", "30s")])
def test_gunicorn_refuses_to_start_in_one_line_naming_the_variable(tmp_path, variable, value):
    """The master's check (deploy/gunicorn.conf.py on_starting) reads every setting and the secret key before any
    worker starts: a worker that failed on it printed a 180-line traceback and gunicorn said 'Worker failed to
    boot'."""
    env = _env(tmp_path, **{variable: value, "PORT": str(free_port()), "HOST": "127.0.0.1"})
    out = subprocess.run(gunicorn_argv(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    line = _one_line(out, variable)
    assert "ERROR switchyard.startup" in line and out.returncode == 4
    assert "Worker failed to boot" not in out.stdout + out.stderr


def test_the_startup_check_alone_exits_4_naming_the_secret_key(tmp_path):
    out = subprocess.run([sys.executable, "-m", "gateway.startup"], cwd=ROOT, capture_output=True, text=True,
                         env=_env(tmp_path, SWITCHYARD_SECRET_KEY="x" * 44), timeout=60)
    assert out.returncode == 4 and "SWITCHYARD_SECRET_KEY is not a Fernet key" in _one_line(out, "SECRET_KEY")


def test_the_app_factory_raises_one_setting_error_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHYARD_KEY_CACHE_TTL_S", "30s")
    with pytest.raises(SettingError, match="SWITCHYARD_KEY_CACHE_TTL_S must be a number; got '30s'"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "INSTANCE_DIR": str(tmp_path)})
    monkeypatch.delenv("SWITCHYARD_KEY_CACHE_TTL_S")
    with pytest.raises(SettingError, match="SWITCHYARD_SECRET_KEY is not a Fernet key"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "INSTANCE_DIR": str(tmp_path),
                    "SECRET_KEY": "abc"})


@pytest.mark.parametrize("variable, value", [("SWITCHYARD_SECRET_KEY", "abc"),
                                             ("SWITCHYARD_KEY_CACHE_TTL_S", "30s")])
def test_any_wsgi_server_importing_wsgi_gets_one_line_naming_the_variable(tmp_path, variable, value):
    """waitress, mod_wsgi and the like import `wsgi:app` without gunicorn's master check before it."""
    code = "import wsgi"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path, **{variable: value}),
                         capture_output=True, text=True, timeout=60)
    line = _one_line(out, variable)
    assert line.startswith("switchyard: ") and out.returncode == 4
