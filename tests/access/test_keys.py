"""API keys: shown once and stored as a digest, scoped, expiring, revocable, last use kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from mutuelle.access import accounts, keys
from mutuelle.access.viewers import viewer_of_request
from mutuelle.core.clock import now
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, Unauthenticated


@pytest.fixture
def member(session: Session):  # type: ignore[no-untyped-def]
    user, _ = accounts.create_user(session, email="bob@example.org", password="correct horse battery")
    session.commit()
    return user


def test_a_key_is_shown_once_and_stored_as_a_digest(session: Session, member) -> None:  # type: ignore[no-untyped-def]
    made = keys.create_key(session, member, name="script", scope="write")
    session.commit()
    assert made.secret.startswith("mut_") and made.secret not in made.key.key_hash
    user, key = keys.key_user(session, made.secret)
    assert user.id == member.id and key.scope == "write" and key.last_used_at is not None


def test_revoked_expired_forged_and_disabled_keys_are_refused(session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    revoked = keys.create_key(session, member)
    keys.revoke_key(session, revoked.key)
    expiring = keys.create_key(session, member, expires_at=now() + timedelta(seconds=30))
    expiring.key.expires_at = now() - timedelta(seconds=1)
    good = keys.create_key(session, member)
    session.commit()
    forged = good.secret[:-4] + ("AAAA" if not good.secret.endswith("AAAA") else "BBBB")
    for secret in (revoked.secret, expiring.secret, forged, "mut_nothing.at-all", "garbage"):
        with pytest.raises(Unauthenticated, match="invalid, revoked or expired"):
            viewer_of_request(session, any_settings, session_token=None, api_key=secret)
    accounts.set_disabled(session, member, True)
    session.commit()
    with pytest.raises(Unauthenticated):
        keys.key_user(session, good.secret)


def test_a_key_acts_as_its_user_within_its_scope(session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    made = keys.create_key(session, member, scope="read")
    session.commit()
    viewer, token_hash = viewer_of_request(session, any_settings, session_token=None, api_key=made.secret)
    assert viewer.user_id == member.id and viewer.key_scope == "read" and token_hash is None


@pytest.mark.parametrize("scope", ["admin", "", "READ"])
def test_unknown_scopes_are_refused(session: Session, member, scope: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="scope"):
        keys.create_key(session, member, scope=scope)


def test_an_expiry_in_the_past_is_refused(session: Session, member) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="future"):
        keys.create_key(session, member, expires_at=now() - timedelta(days=1))
