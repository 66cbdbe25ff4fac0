"""Discussions for professionals: threads on datasets, indicators and scenarios, replies with
mentions, follows, and the notifications they bring (replies, mentions, new versions).

Who may read or write is decided by ``access.policy.thread_allowed``: a thread is seen by
whoever may read its object, an internal thread only by members of the object's
organisations; anonymous visitors never see internal threads and never write, except a
problem report on a dataset they may read (``report_as_visitor``: an internal thread, throttled
per address, with the address they leave to be answered).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mutuelle.access import throttle
from mutuelle.access.policy import (
    Viewer,
    allowed,
    readable_dataset,
    readable_indicator,
    readable_scenario,
    thread_allowed,
)
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog.discussion_models import (
    DISCUSSABLE_KINDS,
    Comment,
    Follow,
    Notification,
    Thread,
)
from mutuelle.catalog.members_models import User
from mutuelle.core.clock import now
from mutuelle.core.config import Settings
from mutuelle.core.errors import Busy, Forbidden, InvalidInput, NotFound, Unauthenticated
from mutuelle.core.text import check_text

MAX_TITLE = 300
MAX_BODY = 10_000
#: Mentions are ``@`` followed by a member's email.
_MENTION = re.compile(r"@([^\s@,;:()<>]+@[^\s@,;:()<>]+\.[A-Za-z]{2,})")


def discussed_object(session: Session, viewer: Viewer, kind: str, object_id: str) -> Any:
    """The dataset, indicator or scenario a thread is about, if ``viewer`` may read it."""
    if kind == "dataset":
        return readable_dataset(session, viewer, object_id)
    if kind == "indicator":
        return readable_indicator(session, viewer, object_id)
    if kind == "scenario":
        return readable_scenario(session, viewer, object_id)
    raise InvalidInput(f"kind must be one of {', '.join(DISCUSSABLE_KINDS)}, not {kind!r}")


def _object_key(subject: Any) -> str:
    return str(subject.id)


def threads_on(session: Session, viewer: Viewer, kind: str, object_id: str) -> list[Thread]:
    """The threads about an object that ``viewer`` may read, newest activity first."""
    subject = discussed_object(session, viewer, kind, object_id)
    rows = session.scalars(select(Thread).where(
        Thread.object_kind == kind, Thread.object_id == _object_key(subject))
        .order_by(Thread.updated_at.desc())).all()
    return [t for t in rows if thread_allowed(viewer, "read", t, subject)]


def get_thread(session: Session, viewer: Viewer, thread_id: str) -> tuple[Thread, Any]:
    """A thread and its object, if ``viewer`` may read it (else NotFound)."""
    thread = session.get(Thread, thread_id)
    if thread is None:
        raise NotFound(f"no thread {thread_id!r}")
    try:
        subject = discussed_object(session, viewer, thread.object_kind, thread.object_id)
    except NotFound:
        raise NotFound(f"no thread {thread_id!r}") from None
    if not thread_allowed(viewer, "read", thread, subject):
        raise NotFound(f"no thread {thread_id!r}")
    return thread, subject


def _require_member(viewer: Viewer) -> None:
    if viewer.user_id is None:
        if viewer.operator:
            raise Forbidden("discussions are between members: the command line cannot write in them")
        raise Unauthenticated("sign in to take part in discussions")
    if viewer.key_scope == "read":
        raise Forbidden("this API key may only read")


def start_thread(session: Session, viewer: Viewer, kind: str, object_id: str, *, title: str,
                 body: str, internal: bool = True) -> Thread:
    """A new thread about an object, with its first message."""
    subject = discussed_object(session, viewer, kind, object_id)   # NotFound first: hides it
    _require_member(viewer)
    if not allowed(viewer, "comment", subject):
        raise Forbidden("you may not discuss this object")
    thread = Thread(object_kind=kind, object_id=_object_key(subject), internal=bool(internal),
                    title=check_text(title, "title", max_length=MAX_TITLE, required=True),
                    author_id=viewer.user_id)
    if not thread_allowed(viewer, "comment", thread, subject):
        raise Forbidden("internal threads are for members of the object's organisations")
    session.add(thread)
    session.flush()
    _add_comment(session, viewer, thread, subject, body)
    follow(session, viewer, kind, thread.object_id)
    return thread


class ReportsThrottled(Busy):
    """Too many problem reports from one address within the window (429)."""

    error_code = "TooManyReports"


#: An address left to be answered: something@somewhere.tld, without spaces.
_CONTACT = re.compile(r"[^\s@<>\"]+@[^\s@<>\"]+\.[^\s@<>\"]+")


def is_contact(text: str) -> bool:
    """Whether ``text`` reads as an email address one may answer."""
    return len(text) <= 320 and _CONTACT.fullmatch(text) is not None


def report_as_visitor(session: Session, settings: Settings, viewer: Viewer, dataset_key: str, *,
                      title: str, body: str, contact: str = "", address: str) -> Thread:
    """A problem reported on a dataset by a visitor without an account: an internal thread
    (the dataset's organisations see it; an unsigned message is never published), its first
    message without author, and ``contact``, the address they leave to be answered (optional).
    At most ``report_max_per_address`` reports per client address within the window."""
    subject = readable_dataset(session, viewer, dataset_key)   # NotFound first: hides it
    if not allowed(viewer, "report", subject):
        raise Forbidden("you may not report a problem on this dataset")
    contact = check_text(contact.strip(), "contact", max_length=320)
    if contact and not is_contact(contact):
        raise InvalidInput(f"contact must be an email address, not {contact[:60]!r}")
    if throttle.reports_throttled(session, settings, address):
        raise ReportsThrottled("too many problem reports from this address: try again later")
    thread = Thread(object_kind="dataset", object_id=subject.id, internal=True, visitor=True,
                    title=check_text(title, "title", max_length=MAX_TITLE, required=True),
                    author_id=None, contact=contact)
    session.add(thread)
    session.flush()
    _add_comment(session, viewer, thread, subject, body)
    throttle.record_report(session, settings, address)
    return thread


def reply(session: Session, viewer: Viewer, thread_id: str, body: str) -> Comment:
    """Add a message to a thread."""
    thread, subject = get_thread(session, viewer, thread_id)
    _require_member(viewer)
    if not thread_allowed(viewer, "comment", thread, subject):
        raise Forbidden("you may not reply in this thread")
    return _add_comment(session, viewer, thread, subject, body)


def _add_comment(session: Session, viewer: Viewer, thread: Thread, subject: Any, body: str) -> Comment:
    comment = Comment(thread_id=thread.id, author_id=viewer.user_id,
                      body=check_text(body, "body", max_length=MAX_BODY, multiline=True, required=True))
    session.add(comment)
    thread.updated_at = now()
    session.flush()
    _notify(session, viewer, thread, subject, comment)
    return comment


def _notify(session: Session, viewer: Viewer, thread: Thread, subject: Any, comment: Comment) -> None:
    """Replies reach the thread's participants and the object's followers; mentions reach the
    member named — each only if they may read the thread."""
    mentioned = {m.lower() for m in _MENTION.findall(comment.body)}
    participants = set(session.scalars(select(Comment.author_id).where(
        Comment.thread_id == thread.id, Comment.author_id.is_not(None))))
    followers = set(session.scalars(select(Follow.user_id).where(
        Follow.object_kind == thread.object_kind, Follow.object_id == thread.object_id)))
    targets: dict[str, str] = {uid: "reply" for uid in participants | followers if uid}
    if mentioned:
        for user_id in session.scalars(select(User.id).where(func.lower(User.email).in_(sorted(mentioned)))):
            targets[user_id] = "mention"
    targets.pop(viewer.user_id or "", None)
    for user_id, kind in targets.items():
        user = session.get(User, user_id)
        if user is None or user.disabled:
            continue
        if not thread_allowed(viewer_of_user(session, user), "read", thread, subject):
            continue  # never tell anyone about a thread they may not read
        session.add(Notification(user_id=user_id, kind=kind, object_kind=thread.object_kind,
                                 object_id=thread.object_id, thread_id=thread.id,
                                 text=thread.title[:500]))


def comments(session: Session, viewer: Viewer, thread_id: str) -> Sequence[tuple[Comment, str]]:
    """(comment, author's display name) of a thread ``viewer`` may read, oldest first."""
    thread, _subject = get_thread(session, viewer, thread_id)
    rows = session.execute(select(Comment, User.display_name).outerjoin(User, User.id == Comment.author_id)
                           .where(Comment.thread_id == thread.id).order_by(Comment.id))
    return [(c, name or "") for c, name in rows]


# --- following and notifications --------------------------------------------------------------

def follow(session: Session, viewer: Viewer, kind: str, object_id: str) -> None:
    """Follow an object ``viewer`` may read: its new versions and threads reach their page."""
    subject = discussed_object(session, viewer, kind, object_id)
    _require_member(viewer)
    key = _object_key(subject)
    if not session.scalar(select(Follow.id).where(
            Follow.user_id == viewer.user_id, Follow.object_kind == kind, Follow.object_id == key)):
        session.add(Follow(user_id=viewer.user_id, object_kind=kind, object_id=key))
        session.flush()


def unfollow(session: Session, viewer: Viewer, kind: str, object_id: str) -> None:
    """Stop following an object."""
    key = _object_key(discussed_object(session, viewer, kind, object_id))
    _require_member(viewer)
    session.execute(delete(Follow).where(Follow.user_id == viewer.user_id, Follow.object_kind == kind,
                                         Follow.object_id == key))


def follows(session: Session, viewer: Viewer) -> Sequence[Follow]:
    """What ``viewer`` follows."""
    if viewer.user_id is None:
        return []
    return session.scalars(select(Follow).where(Follow.user_id == viewer.user_id)
                           .order_by(Follow.created_at.desc())).all()


def notifications(session: Session, viewer: Viewer, *, unread_only: bool = False,
                  limit: int = 50) -> Sequence[Notification]:
    """The newest notifications of ``viewer``."""
    if viewer.user_id is None:
        return []
    query = select(Notification).where(Notification.user_id == viewer.user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return session.scalars(query.order_by(Notification.id.desc()).limit(limit)).all()


def mark_read(session: Session, viewer: Viewer) -> None:
    """Mark every notification of ``viewer`` as read."""
    if viewer.user_id is not None:
        session.execute(update(Notification).where(
            Notification.user_id == viewer.user_id, Notification.read_at.is_(None)).values(read_at=now()))


def section(session: Session, viewer: Viewer, kind: str, object_id: str) -> dict[str, Any]:
    """What the discussion section of an object's page shows to ``viewer``: its threads with
    their messages, and whether the viewer follows the object."""
    listed = threads_on(session, viewer, kind, object_id)
    following = viewer.user_id is not None and any(
        f.object_kind == kind and f.object_id == object_id for f in follows(session, viewer))
    return {"kind": kind, "object_id": object_id, "following": following,
            "threads": [(t, comments(session, viewer, t.id)) for t in listed]}
