"""Discussions API: threads on datasets, indicators and scenarios, replies, follows and one's
notifications. What each caller sees follows the object (``discussions.threads``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from mutuelle.catalog.discussion_models import Comment, Thread
from mutuelle.discussions import threads
from mutuelle.requests import SessionDep, ViewerDep

router = APIRouter(prefix="/api", tags=["discussions"])
Kind = Literal["dataset", "indicator", "scenario"]


class NewThread(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    object_id: Annotated[str, Field(max_length=100)]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    body: Annotated[str, Field(min_length=1, max_length=10_000)]
    internal: bool = True


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Annotated[str, Field(min_length=1, max_length=10_000)]


class FollowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    object_id: Annotated[str, Field(max_length=100)]


def thread_json(thread: Thread, comments: list[tuple[Comment, str]] | None = None) -> dict[str, Any]:
    """A thread (and its messages when given)."""
    out: dict[str, Any] = {"id": thread.id, "kind": thread.object_kind, "object_id": thread.object_id,
                           "title": thread.title, "internal": thread.internal,
                           "created_at": thread.created_at, "updated_at": thread.updated_at}
    if comments is not None:
        out["comments"] = [{"id": c.id, "author": name, "body": c.body, "created_at": c.created_at}
                           for c, name in comments]
    return out


@router.get("/threads", summary="Threads about an object that the caller may read")
def list_threads(session: SessionDep, viewer: ViewerDep, kind: Kind,
                 object_id: Annotated[str, Query(max_length=100)]) -> dict[str, Any]:
    rows = threads.threads_on(session, viewer, kind, object_id)
    return {"total_count": len(rows), "results": [thread_json(t) for t in rows]}


@router.post("/threads", status_code=201, summary="Open a thread about an object (members)")
def start_thread(session: SessionDep, viewer: ViewerDep, body: NewThread) -> dict[str, Any]:
    thread = threads.start_thread(session, viewer, body.kind, body.object_id, title=body.title,
                                  body=body.body, internal=body.internal)
    session.commit()
    return thread_json(thread, list(threads.comments(session, viewer, thread.id)))


@router.get("/threads/{thread_id}", summary="A thread and its messages")
def get_thread(thread_id: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    thread, _subject = threads.get_thread(session, viewer, thread_id)
    return thread_json(thread, list(threads.comments(session, viewer, thread_id)))


@router.post("/threads/{thread_id}/comments", status_code=201, summary="Reply in a thread (members)")
def reply(thread_id: str, session: SessionDep, viewer: ViewerDep, body: Reply) -> dict[str, Any]:
    threads.reply(session, viewer, thread_id, body.body)
    session.commit()
    return get_thread(thread_id, session, viewer)


@router.post("/follows", status_code=204, summary="Follow an object: new versions and replies reach me")
def follow(session: SessionDep, viewer: ViewerDep, body: FollowRequest) -> Response:
    threads.follow(session, viewer, body.kind, body.object_id)
    session.commit()
    return Response(status_code=204)


@router.delete("/follows", status_code=204, summary="Stop following an object")
def unfollow(session: SessionDep, viewer: ViewerDep, kind: Kind,
             object_id: Annotated[str, Query(max_length=100)]) -> Response:
    threads.unfollow(session, viewer, kind, object_id)
    session.commit()
    return Response(status_code=204)


@router.get("/me/notifications", summary="My notifications, newest first")
def my_notifications(session: SessionDep, viewer: ViewerDep, unread: bool = False) -> dict[str, Any]:
    rows = threads.notifications(session, viewer, unread_only=unread)
    return {"total_count": len(rows), "results": [
        {"id": n.id, "kind": n.kind, "object_kind": n.object_kind, "object_id": n.object_id,
         "thread_id": n.thread_id, "text": n.text, "created_at": n.created_at, "read": n.read_at is not None}
        for n in rows]}
