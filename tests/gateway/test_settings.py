"""Settings: an unknown name is refused, naming it; two apps in one process keep their own limiter state."""
import uuid

import pytest

from app import create_app
from gateway import db
from gateway.keys import create_key


def test_an_unknown_setting_is_refused_with_its_name(tmp_path):
    with pytest.raises(ValueError, match="unknown setting DATABSE_URL"):
        create_app({"DATABSE_URL": f"sqlite:///{tmp_path / 'x.db'}", "INSTANCE_DIR": str(tmp_path)})


def test_two_apps_in_one_process_keep_separate_limiter_state(tmp_path):
    apps, keys = [], []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        db.upgrade(url)
        app = create_app({"DATABASE_URL": url, "TESTING": True, "INSTANCE_DIR": str(tmp_path / name),
                          "CATALOG_REFRESH_S": 0,   # with REDIS_URL (CI): two deployments, two namespaces
                          "REDIS_PREFIX": f"switchyard-test:{uuid.uuid4().hex}:"})
        _, secret = create_key(app.extensions["switchyard"].sessionmaker, name, rpm_limit=2)   # key id 1 in both
        apps.append(app)
        keys.append(secret)
    try:
        assert apps[0].extensions["switchyard"].limiter is not apps[1].extensions["switchyard"].limiter
        for app, secret in zip(apps, keys):            # each app: 2 allowed, the third refused
            client = app.test_client()
            codes = [client.get("/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code
                     for _ in range(3)]
            assert codes == [200, 200, 429], codes
    finally:
        for app in apps:
            app.extensions["switchyard"].shutdown()
