"""The one authorisation function: who may see which dataset. Every path calls it.

Until accounts exist, the caller is anonymous and sees published public datasets only;
the accounts issue extends ``Viewer`` and these two functions, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, true
from sqlalchemy.orm import Session

from mutuelle.catalog.models import Dataset
from mutuelle.catalog.observatory_models import Indicator, Scenario
from mutuelle.core.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Viewer:
    """Who is asking. ``operator`` is the local command line, which sees everything."""

    name: str = "anonymous"
    operator: bool = False


ANONYMOUS = Viewer()
OPERATOR = Viewer(name="operator", operator=True)


def can_read_dataset(viewer: Viewer, dataset: Dataset) -> bool:
    """Whether ``viewer`` may know of and read ``dataset``."""
    if viewer.operator:
        return True
    return dataset.status == "published" and dataset.access == "public"


def visible_datasets(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL filter equivalent to ``can_read_dataset`` for listings and counts."""
    if viewer.operator:
        return true()
    return and_(Dataset.status == "published", Dataset.access == "public")


def can_read_indicator(viewer: Viewer, indicator: Indicator) -> bool:
    """Whether ``viewer`` may see an indicator's definition, values, classes and tiles."""
    return indicator.access == "public" or viewer.operator


def can_read_scenario(viewer: Viewer, scenario: Scenario) -> bool:
    """Public scenarios are for anyone with the link; internal ones for professionals
    (until accounts exist: the operator)."""
    return scenario.access == "public" or viewer.operator


def can_edit_dataset(viewer: Viewer, dataset: Dataset) -> bool:
    """Whether ``viewer`` may import into or describe ``dataset``."""
    return viewer.operator



def viewer_for_client(client_host: str | None, *, local_editing: bool) -> Viewer:
    """The viewer of a web or API request: until accounts exist, the local machine may edit
    when ``local_editing`` is on (the embedded default), everyone else is anonymous."""
    if local_editing and client_host in {"127.0.0.1", "::1"}:
        return Viewer(name="local", operator=True)
    return ANONYMOUS


def readable_dataset(session: Session, viewer: Viewer, key: str) -> Dataset:
    """The dataset ``key`` if ``viewer`` may read it; otherwise NotFound (never Forbidden,
    so that callers cannot learn that a hidden dataset exists)."""
    from mutuelle.catalog.repository import get_dataset

    dataset = get_dataset(session, key)
    if not can_read_dataset(viewer, dataset):
        raise NotFound(f"no dataset {key!r}")
    return dataset


def editable_dataset(session: Session, viewer: Viewer, key: str) -> Dataset:
    """The dataset ``key`` if ``viewer`` may change it (NotFound if it may not even read it)."""
    dataset = readable_dataset(session, viewer, key)
    if not can_edit_dataset(viewer, dataset):
        raise Forbidden(f"you may not change dataset {key!r}")
    return dataset
