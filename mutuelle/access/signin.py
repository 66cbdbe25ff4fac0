"""Signing in and out: password check with throttling and no account enumeration, and
server-side sessions (the browser holds a random token, the catalogue its digest), rotated at
every sign-in and ended by sign-out, a password change, a reset or a disabled account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mutuelle.access import throttle
from mutuelle.access.secrets import check_password, digest, new_token
from mutuelle.catalog.members_models import LoginSession, User
from mutuelle.core.clock import as_utc, now
from mutuelle.core.config import Settings
from mutuelle.core.errors import Busy, InvalidInput

#: The one message for an unknown email, a wrong password and a disabled account.
WRONG_CREDENTIALS = "wrong email or password"
#: last_seen_at is written at most this often (reads must not each write).
TOUCH_EVERY = timedelta(minutes=1)


class SignInFailed(InvalidInput):
    """Wrong credentials (never says which part was wrong)."""

    status_code = 401
    error_code = "SignInFailed"


class SignInThrottled(Busy):
    """Too many failed sign-ins for this account or address."""

    error_code = "TooManySignInAttempts"


@dataclass(frozen=True)
class SignedIn:
    """A new session: the token goes to the browser's cookie, never to the catalogue."""

    token: str
    user: User


def sign_in(session: Session, settings: Settings, email: str, password: str, *,
            address: str = "", previous_token: str | None = None) -> SignedIn:
    """Check credentials and open a new session (the previous one, if any, ends: sessions are
    rotated at sign-in)."""
    address_key = address or "unknown"
    if throttle.throttled(session, settings, email, address_key):
        check_password(None, password)  # same work as any other attempt
        raise SignInThrottled("too many failed sign-ins: try again in a few minutes")
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    ok = check_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        throttle.record_failure(session, settings, email, address_key)
        session.commit()
        raise SignInFailed(WRONG_CREDENTIALS)
    throttle.forget_failures(session, email)
    if previous_token:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == digest(previous_token)))
    token = new_token()
    moment = now()
    session.add(LoginSession(token_hash=digest(token), user_id=user.id, created_at=moment,
                             last_seen_at=moment, address=address[:64],
                             expires_at=moment + timedelta(hours=settings.session_max_hours)))
    user.last_login_at = moment
    session.commit()
    return SignedIn(token=token, user=user)


def sign_out(session: Session, token: str) -> None:
    """End the session of this token."""
    session.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token)))
    session.commit()


def session_user(session: Session, settings: Settings, token: str) -> tuple[User, str] | None:
    """(user, token digest) of a live session, or None (unknown, expired, idle too long, or the
    account disabled)."""
    token_hash = digest(token)
    row = session.execute(
        select(LoginSession, User).join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == token_hash)).first()
    if row is None:
        return None
    live, user = row
    moment = now()
    idle_limit = as_utc(live.last_seen_at) + timedelta(minutes=settings.session_idle_minutes)
    if user.disabled or as_utc(live.expires_at) <= moment or idle_limit <= moment:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash))
        session.commit()
        return None
    if moment - as_utc(live.last_seen_at) >= TOUCH_EVERY:
        session.execute(update(LoginSession).where(LoginSession.token_hash == token_hash)
                        .values(last_seen_at=moment))
        session.commit()
    return user, token_hash
