"""Signing in: one message for every wrong credential, throttling per account and per
address, sessions rotated at sign-in and ended by sign-out, password changes, resets,
disabled accounts, idleness and age."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from mutuelle.access import accounts, signin
from mutuelle.access.secrets import digest
from mutuelle.access.signin import WRONG_CREDENTIALS, SignInFailed, SignInThrottled
from mutuelle.catalog.members_models import LoginSession
from mutuelle.core.clock import now
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput

PASSWORD = "correct horse battery"


@pytest.fixture
def member(session: Session):  # type: ignore[no-untyped-def]
    user, _ = accounts.create_user(session, email="Alice@Example.org", password=PASSWORD)
    session.commit()
    return user


def test_a_member_signs_in_with_any_case_of_their_email(session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    signed = signin.sign_in(session, any_settings, "ALICE@example.org", PASSWORD, address="10.0.0.1")
    found = signin.session_user(session, any_settings, signed.token)
    assert found is not None and found[0].id == member.id
    assert found[1] == digest(signed.token) and signed.token not in found[1]


def test_unknown_email_wrong_password_and_disabled_account_get_the_same_answer(
        session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    messages = []
    for email, password in [("nobody@example.org", PASSWORD), ("alice@example.org", "wrong password!")]:
        with pytest.raises(SignInFailed) as caught:
            signin.sign_in(session, any_settings, email, password, address="10.0.0.2")
        messages.append(caught.value.message)
    accounts.set_disabled(session, member, True)
    session.commit()
    with pytest.raises(SignInFailed) as caught:
        signin.sign_in(session, any_settings, "alice@example.org", PASSWORD, address="10.0.0.2")
    messages.append(caught.value.message)
    assert messages == [WRONG_CREDENTIALS] * 3


def test_failures_throttle_the_account_then_the_address(session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    settings = any_settings.with_(login_max_failures=3, login_max_failures_per_address=5)
    for _ in range(3):
        with pytest.raises(SignInFailed):
            signin.sign_in(session, settings, "alice@example.org", "not it at all", address="10.0.0.3")
    with pytest.raises(SignInThrottled):  # even the right password waits
        signin.sign_in(session, settings, "alice@example.org", PASSWORD, address="10.0.0.4")
    for n in range(5):  # guessing other accounts from one address
        with pytest.raises(SignInFailed):
            signin.sign_in(session, settings, f"x{n}@example.org", "guess guess", address="10.0.0.5")
    with pytest.raises(SignInThrottled):
        signin.sign_in(session, settings, "someone@example.org", "guess guess", address="10.0.0.5")


def test_sessions_rotate_at_sign_in_and_end_at_sign_out(session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    first = signin.sign_in(session, any_settings, "alice@example.org", PASSWORD)
    second = signin.sign_in(session, any_settings, "alice@example.org", PASSWORD, previous_token=first.token)
    assert second.token != first.token
    assert signin.session_user(session, any_settings, first.token) is None, "a planted token does not survive sign-in"
    signin.sign_out(session, second.token)
    assert signin.session_user(session, any_settings, second.token) is None


def test_idle_and_old_sessions_end(session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    idle = signin.sign_in(session, any_settings, "alice@example.org", PASSWORD)
    old = signin.sign_in(session, any_settings, "alice@example.org", PASSWORD)
    session.execute(update(LoginSession).where(LoginSession.token_hash == digest(idle.token))
                    .values(last_seen_at=now() - timedelta(minutes=any_settings.session_idle_minutes + 1)))
    session.execute(update(LoginSession).where(LoginSession.token_hash == digest(old.token))
                    .values(expires_at=now() - timedelta(seconds=1)))
    session.commit()
    assert signin.session_user(session, any_settings, idle.token) is None
    assert signin.session_user(session, any_settings, old.token) is None


def test_a_password_change_ends_the_other_sessions(session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    here = signin.sign_in(session, any_settings, "alice@example.org", PASSWORD)
    elsewhere = signin.sign_in(session, any_settings, "alice@example.org", PASSWORD)
    with pytest.raises(InvalidInput, match="current password"):
        accounts.change_password(session, member, "not the password", "a new long password")
    with pytest.raises(InvalidInput, match="at least"):
        accounts.change_password(session, member, PASSWORD, "short")
    accounts.change_password(session, member, PASSWORD, "a new long password", keep_session=digest(here.token))
    session.commit()
    assert signin.session_user(session, any_settings, here.token) is not None
    assert signin.session_user(session, any_settings, elsewhere.token) is None
    signin.sign_in(session, any_settings, "alice@example.org", "a new long password")


def test_an_admin_reset_gives_a_one_time_password_and_ends_sessions(session: Session, any_settings: Settings, member) -> None:  # type: ignore[no-untyped-def]
    live = signin.sign_in(session, any_settings, "alice@example.org", PASSWORD)
    one_time = accounts.reset_password(session, member)
    session.commit()
    assert signin.session_user(session, any_settings, live.token) is None
    with pytest.raises(SignInFailed):
        signin.sign_in(session, any_settings, "alice@example.org", PASSWORD)
    signed = signin.sign_in(session, any_settings, "alice@example.org", one_time)
    assert signed.user.must_change_password


def test_the_first_administrator_is_made_once_with_a_one_time_password(session: Session, any_settings: Settings) -> None:
    one_time = accounts.ensure_first_admin(session)
    session.commit()
    assert one_time and len(one_time) >= 16
    assert accounts.ensure_first_admin(session) is None
    signed = signin.sign_in(session, any_settings, accounts.FIRST_ADMIN_EMAIL, one_time)
    assert signed.user.is_admin and signed.user.must_change_password


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@b\x00c", "two@@example.org", "x" * 330 + "@e.org"])
def test_bad_emails_are_refused_naming_the_field(session: Session, email: str) -> None:
    with pytest.raises(InvalidInput, match="email"):
        accounts.create_user(session, email=email, password=PASSWORD)
