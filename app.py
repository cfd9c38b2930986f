"""create_app(config=None): the one place where Switchyard is wired together; nothing runs at import time."""
import logging

from flask import Flask

from gateway.config import Settings


def create_app(config: dict | None = None) -> Flask:
    from gateway.admin import init_admin
    from gateway.api import register_blueprints
    from gateway.cli import register_cli
    from gateway.cors import init_cors
    from gateway.errors import init_errors
    from gateway.limits import storage_config
    from gateway.services import Services

    settings = Settings.from_env().update(config)
    app = Flask(__name__, instance_path=settings.INSTANCE_DIR)
    app.config["MAX_CONTENT_LENGTH"] = settings.MAX_BODY_BYTES
    app.config["TESTING"] = settings.TESTING
    app.config["SWITCHYARD"] = settings
    app.config.update(storage_config(settings.REDIS_URL, settings.REDIS_PREFIX))
    app.extensions["switchyard"] = Services.build(settings)
    init_errors(app)
    app.extensions["switchyard"].limiter.init_app(app)
    register_blueprints(app)
    init_cors(app, settings)
    init_admin(app)
    register_cli(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app
