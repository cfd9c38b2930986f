"""Flask-Admin's SQLAlchemy contrib, importable without Flask-SQLAlchemy (which Switchyard does not use)."""
import importlib
import sys


def _load_sqla():
    try:
        import flask_admin.contrib.sqla as sqla
        return sqla
    except ImportError:
        types = sys.modules.get("flask_admin.contrib.sqla._types")
        if types is None or hasattr(types, "T_SESSION"):
            raise
    # Flask-Admin 2.2.1's contrib/sqla/_types.py defines the type alias T_SESSION only when flask_sqlalchemy
    # imports, and _compat.py imports it unconditionally: give it the plain SQLAlchemy Session and import again.
    from sqlalchemy.orm import Session
    types.T_SESSION = Session
    import flask_admin.contrib.sqla as sqla
    return sqla


ModelView = _load_sqla().ModelView
filters = importlib.import_module("flask_admin.contrib.sqla.filters")
typefmt = importlib.import_module("flask_admin.contrib.sqla.typefmt")
