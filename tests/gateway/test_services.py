"""A worker that boots while its database is unusable answers 503 `service_unavailable` (never
`model_not_supported`), and serves once the database is back, by itself (the background refresh started anyway)."""
import time

from app import create_app
from gateway import db
from gateway.keys import create_key


def test_a_worker_booted_before_its_database_was_ready_recovers_by_itself(tmp_path):
    url = f"sqlite:///{tmp_path / 'late.db'}"
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance"),
                      "CATALOG_REFRESH_S": 0.1, "SECRET_KEY": None})
    svc = app.extensions["switchyard"]
    client = app.test_client()
    try:
        first = client.get("/v1/models", headers={"Authorization": "Bearer sk-sy-anything"})
        assert first.status_code == 503 and first.json["error"]["code"] == "service_unavailable"
        assert "catalog" in first.json["error"]["message"]
        again = client.get("/v1/models", headers={"Authorization": "Bearer sk-sy-anything"})
        assert again.status_code == 503                      # retried at most once a second: no DB hammering
        ready = client.get("/readyz")
        assert ready.status_code == 503

        db.upgrade(url)                                      # the database is ready now
        _, secret = create_key(svc.sessionmaker, "late")
        deadline = time.time() + 5
        while not svc.catalog.loaded and time.time() < deadline:
            time.sleep(0.05)
        assert svc.catalog.loaded, "the background refresh never loaded the catalog"
        ok = client.get("/v1/models", headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200 and ok.json["object"] == "list"
        assert client.get("/readyz").status_code == 200
    finally:
        svc.shutdown()


def test_startup_warns_of_routed_models_without_a_price(tmp_path, caplog):
    import logging

    from gateway import config_file
    url = f"sqlite:///{tmp_path / 'unpriced.db'}"
    db.upgrade(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance"),
                      "CATALOG_REFRESH_S": 0, "SECRET_KEY": None})
    svc = app.extensions["switchyard"]
    with svc.sessionmaker() as s, s.begin():
        config_file.apply(s, config_file.parse(
            "providers:\n  - {name: local, type: openai, base_url: 'http://127.0.0.1:9/v1', api_key: x}\n"
            "models:\n  - {id: local/priced, input_per_mtok: 1, output_per_mtok: 1}\n"
            "routes:\n  - {alias: mix, targets: [local/priced, local/free, 'local/free:high']}\n"), svc.box)
    try:
        with caplog.at_level(logging.WARNING, logger="switchyard.services"):
            svc.start()
        warnings = [r.getMessage() for r in caplog.records if "without a price" in r.getMessage()]
        assert warnings == ["routes name models without a price (served, and logged with cost null, never $0): "
                            "local/free"]
    finally:
        svc.shutdown()
