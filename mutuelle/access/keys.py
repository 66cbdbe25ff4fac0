"""API keys, sent as Opendatasoft clients send them (``Authorization: Apikey <key>`` or
``?apikey=<key>``): shown once at creation, stored as a digest, scoped to reading or writing,
with an expiry, revocable, their last use recorded."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mutuelle.access.secrets import digest, same
from mutuelle.catalog.members_models import KEY_SCOPES, ApiKey, User
from mutuelle.core.clock import as_utc, now
from mutuelle.core.errors import InvalidInput, NotFound, Unauthenticated
from mutuelle.core.text import check_text

#: Keys look like ``mut_<prefix>.<secret>``.
KEY_PREFIX = "mut_"
#: last_used_at is written at most this often.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``secret`` is shown once and never stored."""

    key: ApiKey
    secret: str


def create_key(session: Session, user: User, *, name: str = "", scope: str = "read",
               expires_at: datetime | None = None) -> NewKey:
    """A new API key for ``user``."""
    if scope not in KEY_SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(KEY_SCOPES)}, not {scope!r}")
    if expires_at is not None and expires_at <= now():
        raise InvalidInput("expires_at must be in the future")
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey(prefix=prefix, key_hash=digest(secret), user_id=user.id, scope=scope,
                 name=check_text(name, "name", max_length=200), expires_at=expires_at)
    session.add(key)
    session.flush()
    return NewKey(key=key, secret=secret)


def list_keys(session: Session, user: User | None = None) -> Sequence[ApiKey]:
    """The keys of one user (or every key), newest first."""
    query = select(ApiKey).order_by(ApiKey.created_at.desc())
    if user is not None:
        query = query.where(ApiKey.user_id == user.id)
    return session.scalars(query).all()


def get_key(session: Session, key_id: str) -> ApiKey:
    """A key by its id or its prefix."""
    key = session.scalar(select(ApiKey).where((ApiKey.id == key_id) | (ApiKey.prefix == key_id)))
    if key is None:
        raise NotFound(f"no API key {key_id!r}")
    return key


def revoke_key(session: Session, key: ApiKey) -> None:
    """Stop a key from working, at once."""
    key.revoked_at = key.revoked_at or now()
    session.flush()


def key_user(session: Session, secret: str) -> tuple[User, ApiKey]:
    """The user and key of a key sent with a request, else Unauthenticated (unknown, revoked,
    expired, or the account disabled: one message for all)."""
    refused = Unauthenticated("invalid, revoked or expired API key")
    if not secret.startswith(KEY_PREFIX) or "." not in secret:
        raise refused
    prefix = secret[len(KEY_PREFIX):].split(".", 1)[0]
    row = session.execute(select(ApiKey, User).join(User, User.id == ApiKey.user_id)
                          .where(ApiKey.prefix == prefix)).first()
    if row is None:
        digest(secret)
        raise refused
    key, user = row
    moment = now()
    expired = key.expires_at is not None and as_utc(key.expires_at) <= moment
    if not same(key.key_hash, digest(secret)) or key.revoked_at is not None or expired or user.disabled:
        raise refused
    if key.last_used_at is None or moment - as_utc(key.last_used_at) >= TOUCH_EVERY:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=moment))
        session.commit()
    return user, key
