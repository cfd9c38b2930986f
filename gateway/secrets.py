"""Provider secrets at rest: Fernet encryption with the key from SWITCHYARD_SECRET_KEY or instance/."""
import logging
import os

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger("switchyard.secrets")


def load_or_create_key(configured: str | None, instance_dir: str) -> bytes:
    """The configured key, else the one kept in instance/secret.key, generated (with a warning) on first run."""
    if configured:
        return configured.encode()
    path = os.path.join(instance_dir, "secret.key")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read().strip()
    os.makedirs(instance_dir, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    log.warning("SWITCHYARD_SECRET_KEY is not set: generated one into %s. Back it up; provider keys stored "
                "in the database cannot be read without it.", path)
    return key


class SecretBox:
    def __init__(self, key: bytes):
        self.key = key                      # read once per process; other secrets are derived from it
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            log.error("a stored provider key cannot be decrypted with the current SWITCHYARD_SECRET_KEY")
            return None
