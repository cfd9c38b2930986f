"""Provider keys at rest (gateway/secrets.py): several Fernet keys for a rotation (the first encrypts, all decrypt),
`flask secrets reencrypt`, and a stored key the configured key cannot decrypt: /readyz names the provider, clients
get a 503 naming it (not `no_provider_key`), the log names it once per change, not at every refresh."""
import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app import create_app
from gateway import db
from gateway.admin import session_secret
from gateway.config import SettingError
from gateway.keys import create_key
from gateway.secrets import SecretBox, UndecryptableSecret
from models import Provider

OLD, NEW = Fernet.generate_key(), Fernet.generate_key()
CONFIG = """
providers:
  - {name: acme, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-acme-provider-secret}
  - {name: beta, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-beta-provider-secret}
routes:
  - {alias: fallback, targets: [acme/big, beta/big], retries: 0}
"""


def test_the_first_key_encrypts_and_every_key_decrypts():
    old_token = SecretBox(OLD).encrypt("sk-1")
    both = SecretBox(NEW + b"," + OLD)
    assert both.decrypt(old_token) == "sk-1" and both.key == NEW and both.key_count == 2
    new_token = both.encrypt("sk-2")
    assert SecretBox(NEW).decrypt(new_token) == "sk-2"
    with pytest.raises(UndecryptableSecret):
        SecretBox(OLD).decrypt(new_token)
    assert SecretBox(NEW).decrypt(both.rotate(old_token)) == "sk-1"
    with pytest.raises(UndecryptableSecret):
        SecretBox(Fernet.generate_key()).decrypt(old_token)


def test_the_admin_session_secret_comes_from_the_first_key_alone():
    assert session_secret(NEW + b"," + OLD) == session_secret(NEW) == session_secret(b" " + NEW + b" ,x")
    assert session_secret(NEW) != session_secret(OLD)


@pytest.mark.parametrize("raw, words", [(b"", "is empty"), (NEW + b",", "key 2 of 2 in SWITCHYARD_SECRET_KEY is "
                                                                         "empty"),
                                        (b"0" * 44, "SWITCHYARD_SECRET_KEY is not a Fernet key (44 characters)")])
def test_a_malformed_key_list_names_the_variable_and_the_position_never_the_key(raw, words):
    with pytest.raises(SettingError) as info:
        SecretBox(raw)
    assert words in str(info.value) and "0" * 44 not in str(info.value)


def _app(tmp_path, key: bytes):
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "INSTANCE_DIR": str(tmp_path / "inst"),
                       "CATALOG_REFRESH_S": 0, "TESTING": True, "SECRET_KEY": key.decode()})


@pytest.fixture
def stored_under_old(tmp_path):
    """A database whose provider keys were stored under OLD."""
    db.upgrade(f"sqlite:///{tmp_path / 'k.db'}")
    app = _app(tmp_path, OLD)
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    result = app.test_cli_runner().invoke(args=["config", "import", str(tmp_path / "cfg.yaml")])
    assert result.exit_code == 0, result.output
    app.extensions["switchyard"].shutdown()
    return tmp_path


def _stored(app) -> dict[str, str]:
    with app.extensions["switchyard"].sessionmaker() as s:
        return dict(s.execute(select(Provider.name, Provider.api_key_encrypted)).all())


def test_a_wrong_key_makes_readyz_name_the_provider_and_clients_get_a_clear_503(stored_under_old, caplog):
    app = _app(stored_under_old, NEW)
    svc = app.extensions["switchyard"]
    _, secret = create_key(svc.sessionmaker, "client")
    client = app.test_client()
    try:
        with caplog.at_level(logging.INFO, logger="switchyard.catalog"):
            ready = client.get("/readyz")
            for _ in range(3):                                   # the background refresh, every 5 s
                svc.catalog.refresh()
        assert ready.status_code == 503 and ready.json["error"]["code"] == "unavailable"
        assert ("the stored API key of the providers 'acme', 'beta' cannot be decrypted with SWITCHYARD_SECRET_KEY"
                in ready.json["error"]["message"])
        logged = [r for r in caplog.records if r.name == "switchyard.catalog"]
        assert len(logged) == 1 and logged[0].levelno == logging.ERROR, [r.getMessage() for r in logged]
        assert "'acme', 'beta'" in logged[0].getMessage() and "sk-" not in logged[0].getMessage()

        resp = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                           json={"model": "acme/big", "messages": [{"role": "user", "content": "hi"}]})
        err = resp.json["error"]
        assert resp.status_code == 503 and err["code"] == err["type"] == "service_unavailable"
        assert "stored API key of the provider 'acme' cannot be decrypted" in err["message"]
        routed = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                             json={"model": "fallback", "messages": [{"role": "user", "content": "hi"}]})
        assert routed.status_code == 503 and "'beta'" in routed.json["error"]["message"]       # both tried, at once
        assert routed.headers["x-gateway-attempts"] == \
            "acme/big:service_unavailable,beta/big:service_unavailable"

        caplog.clear()                                           # the key is stored again under the right key
        (stored_under_old / "fix.yaml").write_text(CONFIG.replace("sk-beta-provider-secret", "sk-beta-new"))
        fixed = app.test_cli_runner().invoke(args=["config", "import", str(stored_under_old / "fix.yaml")])
        assert fixed.exit_code == 0, fixed.output
        with caplog.at_level(logging.INFO, logger="switchyard.catalog"):
            svc.catalog.refresh()
            svc.catalog.refresh()
        assert client.get("/readyz").status_code == 200
        assert [r.getMessage() for r in caplog.records if r.name == "switchyard.catalog"] == \
            ["every stored provider key can be decrypted again"]
    finally:
        svc.shutdown()


def test_rotation_new_key_first_then_reencrypt_then_drop_the_old_one(stored_under_old):
    rotating = _app(stored_under_old, NEW + b"," + OLD)
    svc = rotating.extensions["switchyard"]
    try:
        assert rotating.test_client().get("/readyz").status_code == 200       # the old key still decrypts
        assert svc.catalog.snapshot.providers["acme"].api_key == "sk-acme-provider-secret"
        before = _stored(rotating)
        result = rotating.test_cli_runner().invoke(args=["secrets", "reencrypt"])
        assert result.exit_code == 0, result.output
        assert "re-encrypted 2 provider keys with the first key of SWITCHYARD_SECRET_KEY; the keys after it can be " \
               "removed now" in result.output
        after = _stored(rotating)
        assert set(after) == {"acme", "beta"} and all(after[n] != before[n] for n in after)
        assert all(SecretBox(NEW).decrypt(t).startswith("sk-") for t in after.values())
    finally:
        svc.shutdown()
    only_new = _app(stored_under_old, NEW)
    try:
        assert only_new.test_client().get("/readyz").status_code == 200
        assert only_new.extensions["switchyard"].catalog.snapshot.providers["beta"].api_key == "sk-beta-provider-secret"
    finally:
        only_new.extensions["switchyard"].shutdown()


def test_reencrypt_names_a_key_no_configured_key_opens_and_exits_1(stored_under_old):
    app = _app(stored_under_old, NEW)                  # OLD is missing: nothing can be re-encrypted
    try:
        result = app.test_cli_runner().invoke(args=["secrets", "reencrypt"])
        assert result.exit_code == 1
        assert "re-encrypted 0 provider keys" in result.output
        assert "the stored API key of 'acme', 'beta' cannot be decrypted with any key" in result.output
        assert "Traceback" not in result.output
    finally:
        app.extensions["switchyard"].shutdown()
