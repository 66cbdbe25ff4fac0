"""The discussion section of dataset, indicator and scenario pages, and its forms: start a
thread, reply, follow. Visibility is the services' (``discussions.threads``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from mutuelle.catalog.discussion_models import DISCUSSABLE_KINDS
from mutuelle.core.errors import InvalidInput
from mutuelle.discussions import threads
from mutuelle.requests import SessionDep, ViewerDep
from mutuelle.web.pages import see_other

router = APIRouter(include_in_schema=False)
#: Where each kind of object is shown.
PAGES = {"dataset": "/datasets/{id}", "indicator": "/observatoire?indicator={id}", "scenario": "/s/{id}"}


def _back(kind: str, object_id: str) -> str:
    return PAGES[kind].format(id=object_id) + "#discussion"


def _kind(kind: str) -> str:
    if kind not in DISCUSSABLE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DISCUSSABLE_KINDS)}")
    return kind


@router.post("/discussions")
def start(session: SessionDep, viewer: ViewerDep,
          kind: Annotated[str, Form(max_length=20)] = "", object_id: Annotated[str, Form(max_length=100)] = "",
          title: Annotated[str, Form(max_length=300)] = "", body: Annotated[str, Form(max_length=10_000)] = "",
          visibility: Annotated[str, Form(max_length=10)] = "internal") -> Response:
    threads.start_thread(session, viewer, _kind(kind), object_id, title=title, body=body,
                         internal=visibility != "public")
    session.commit()
    return see_other(_back(kind, object_id))


@router.post("/discussions/{thread_id}/reponses")
def answer(thread_id: str, session: SessionDep, viewer: ViewerDep,
           body: Annotated[str, Form(max_length=10_000)] = "") -> Response:
    comment = threads.reply(session, viewer, thread_id, body)
    session.commit()
    thread = comment.thread
    return see_other(_back(thread.object_kind, thread.object_id))


@router.post("/suivre")
def follow(request: Request, session: SessionDep, viewer: ViewerDep,
           kind: Annotated[str, Form(max_length=20)] = "", object_id: Annotated[str, Form(max_length=100)] = "",
           stop: Annotated[str, Form(max_length=5)] = "") -> Response:
    if stop:
        threads.unfollow(session, viewer, _kind(kind), object_id)
    else:
        threads.follow(session, viewer, _kind(kind), object_id)
    session.commit()
    return see_other(_back(kind, object_id))
