"""Provider secrets at rest: Fernet encryption with the keys from SWITCHYARD_SECRET_KEY (or instance/secret.key).

SWITCHYARD_SECRET_KEY holds one Fernet key, or several separated by commas for a rotation (MultiFernet): the first
encrypts everything stored from now on, every one of them decrypts. `flask secrets reencrypt` stores every provider
key again under the first one, after which the others can be removed."""
import logging
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.config import SettingError

log = logging.getLogger("switchyard.secrets")

_HOW = ("a Fernet key is 32 url-safe base64-encoded bytes (44 characters), as "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` prints; "
        "several, for a rotation, are separated by commas, the new one first")


class UndecryptableSecret(ValueError):
    """A stored secret that none of the configured keys decrypts (it was stored under another key)."""


def load_or_create_key(configured: str | None, instance_dir: str) -> bytes:
    """The configured key(s), else those kept in instance/secret.key, generated (with a warning) on first run."""
    if configured:
        return configured.encode()
    path = os.path.join(instance_dir, "secret.key")
    if not os.path.exists(path):
        os.makedirs(instance_dir, exist_ok=True)
        key = Fernet.generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:           # another process of this server made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(key)
            log.warning("SWITCHYARD_SECRET_KEY is not set: generated one into %s. Back it up; provider keys stored "
                        "in the database cannot be read without it.", path)
            return key
    with open(path, "rb") as f:
        return f.read().strip()


def parse_keys(raw: bytes | str, source: str = "SWITCHYARD_SECRET_KEY") -> list[bytes]:
    """The comma-separated Fernet keys of `raw`, first (encrypting) one first; SettingError naming `source` and the
    position of a key that is not one (never the key itself)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    items = [k.strip() for k in text.split(",")]
    if not any(items):
        raise SettingError(f"{source} is empty; {_HOW}.")
    keys = []
    for i, item in enumerate(items, 1):
        where = f"key {i} of {len(items)} in {source}" if len(items) > 1 else source
        if not item:
            raise SettingError(f"{where} is empty (a stray comma?); {_HOW}.")
        try:
            Fernet(item.encode())
        except (ValueError, TypeError):
            raise SettingError(f"{where} is not a Fernet key ({len(item)} characters); {_HOW}.") from None
        keys.append(item.encode())
    return keys


class SecretBox:
    def __init__(self, key: bytes, source: str = "SWITCHYARD_SECRET_KEY"):
        keys = parse_keys(key, source)
        self.key = keys[0]                  # the key that encrypts; other secrets (the admin session's) derive from it
        self.key_count = len(keys)
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The secret; UndecryptableSecret when none of the keys opens it (the caller names whose it was)."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError, AttributeError):
            raise UndecryptableSecret("cannot be decrypted with SWITCHYARD_SECRET_KEY") from None

    def rotate(self, token: str) -> str:
        """The same secret encrypted under the first key (UndecryptableSecret when no key opens it)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError, AttributeError):
            raise UndecryptableSecret("cannot be decrypted with SWITCHYARD_SECRET_KEY") from None


def box_from(configured: str | None, instance_dir: str) -> SecretBox:
    """The box of the settings: SettingError names SWITCHYARD_SECRET_KEY, or the file the key was read from."""
    source = "SWITCHYARD_SECRET_KEY" if configured else os.path.join(instance_dir, "secret.key")
    return SecretBox(load_or_create_key(configured, instance_dir), source)
