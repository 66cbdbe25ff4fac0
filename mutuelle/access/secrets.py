"""Secrets of the members: argon2 password hashes, random tokens and their digests.

Passwords are hashed with argon2id (slow on purpose). API keys and session tokens are
random 256-bit values, so a single SHA-256 is enough to store them and fast to check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
#: Checked against when the account does not exist, so that an unknown email costs the same
#: time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """The argon2id hash of a password."""
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (None: no such account; the same work
    is done anyway)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A random one-time password (about 120 bits), easy to copy."""
    return secrets.token_urlsafe(15)


def new_token() -> str:
    """A random 256-bit token, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def sign(secret: bytes, *parts: str) -> str:
    """An HMAC-SHA256 of ``parts`` under ``secret`` (hex)."""
    return hmac.new(secret, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()
