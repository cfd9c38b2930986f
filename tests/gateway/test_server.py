"""The worker module renders errors like gateway/errors.py does, without importing Flask into the master."""
import subprocess
import sys

import pytest

from gateway import errors, exceptions as exc, server


@pytest.mark.parametrize("err", [exc.InvalidRequest("bad", param="model"), exc.Internal(), exc.RateLimited()])
def test_server_envelope_matches_the_apps(err):
    assert server.envelope(err) == errors.envelope(err)


def test_loading_the_worker_class_does_not_import_flask():
    out = subprocess.run([sys.executable, "-c", "import sys, gateway.server; print('flask' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
