"""Throttling, in the catalogue (so that every worker counts the same events): failed sign-ins
per account and per client address, and the problem reports of visitors without an account per
client address, each over its window."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from mutuelle.access.secrets import digest
from mutuelle.catalog.members_models import LoginFailure
from mutuelle.core.clock import now
from mutuelle.core.config import Settings


def _keys(email: str, address: str) -> tuple[str, str]:
    return f"account:{digest(email.strip().lower())[:40]}", f"address:{address[:60]}"


#: The keys of sign-in failures (the reports' keys start with ``report:``).
_SIGN_IN_KEYS = ("account:%", "address:%")


def throttled(session: Session, settings: Settings, email: str, address: str) -> bool:
    """Whether sign-ins for this account or from this address are paused."""
    account, client = _keys(email, address)
    since = now() - timedelta(minutes=settings.login_window_minutes)
    counts = dict(session.execute(
        select(LoginFailure.key, func.count()).where(
            LoginFailure.key.in_([account, client]), LoginFailure.at >= since)
        .group_by(LoginFailure.key)).all())
    return (counts.get(account, 0) >= settings.login_max_failures
            or counts.get(client, 0) >= settings.login_max_failures_per_address)


def record_failure(session: Session, settings: Settings, email: str, address: str) -> None:
    """Count one failed sign-in (and forget failures older than the window)."""
    account, client = _keys(email, address)
    session.add_all([LoginFailure(key=account), LoginFailure(key=client)])
    session.execute(delete(LoginFailure).where(
        or_(*(LoginFailure.key.like(prefix) for prefix in _SIGN_IN_KEYS)),
        LoginFailure.at < now() - timedelta(minutes=settings.login_window_minutes)))


def forget_failures(session: Session, email: str) -> None:
    """A successful sign-in clears the account's failures (not the address's)."""
    account, _client = _keys(email, "")
    session.execute(delete(LoginFailure).where(LoginFailure.key == account))


# --- problem reports by visitors without an account ------------------------------------------

def _report_key(address: str) -> str:
    return f"report:{address[:60]}"


def reports_throttled(session: Session, settings: Settings, address: str) -> bool:
    """Whether this address has sent as many reports as a visitor may within the window."""
    since = now() - timedelta(minutes=settings.report_window_minutes)
    count = session.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.key == _report_key(address), LoginFailure.at >= since))
    return int(count or 0) >= settings.report_max_per_address


def record_report(session: Session, settings: Settings, address: str) -> None:
    """Count one report from this address (and forget the reports older than the window)."""
    session.add(LoginFailure(key=_report_key(address)))
    session.execute(delete(LoginFailure).where(
        LoginFailure.key.like("report:%"),
        LoginFailure.at < now() - timedelta(minutes=settings.report_window_minutes)))
