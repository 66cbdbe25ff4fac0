"""The one authorisation function: ``allowed(viewer, action, target)`` decides every read and
every write, and ``visible(viewer, kind)`` is its SQL twin for listings and counts. No rights
logic lives anywhere else; pages, API routes, exports, tiles and the CLI all ask here.

The rules, in one place:
- a role (viewer < editor < admin) held in an organisation holds in every organisation below
  it: a territory's editors may publish on behalf of its member cities, never the reverse,
  and an editor of city A has no right on city B;
- *public* objects are for anyone, *internal* ones for the members of the owning
  organisation's tree (the organisation, those above it and those below it), *restricted*
  ones for the groups and users they are granted to; editors of the owning organisation see
  all its objects, drafts included (drafts and submissions are for editors only);
- an indicator is never looser than its source dataset: reading it needs both;
- editors change and submit; organisation admins publish, change access levels and manage
  members; site administrators and the command line (the operator) may do everything;
- whoever may read a dataset may report a problem on it, an anonymous visitor included (who
  reads public data only); discussing needs an account;
- an API key acts as its user, read-only unless its scope is ``write``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from mutuelle.catalog.dashboard_models import Chart, Dashboard
from mutuelle.catalog.discussion_models import Thread
from mutuelle.catalog.members_models import ROLES
from mutuelle.catalog.models import Dataset, Organisation, Version
from mutuelle.catalog.observatory_models import Indicator, Scenario
from mutuelle.core.errors import Forbidden, NotFound, Unauthenticated

#: What can be asked of an object (``report``: tell a dataset's producer of a problem).
ACTIONS = ("read", "edit", "submit", "publish", "manage", "delete", "comment", "create", "report")
#: Actions that change something: refused to read-only API keys.
WRITE_ACTIONS = frozenset(ACTIONS) - {"read"}
_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}


@dataclass(frozen=True)
class Viewer:
    """Who is asking, with everything the policy needs already resolved (so that deciding is a
    pure function): the organisations whose internal objects they may read, their role in each
    organisation (inherited downwards), the groups they belong to and what was granted to them.
    """

    name: str = "anonymous"
    user_id: str | None = None
    email: str = ""
    #: The command line: it already holds the files, so it may do everything.
    operator: bool = False
    site_admin: bool = False
    #: organisation id -> role held there (directly or from an organisation above).
    roles: Mapping[str, str] = field(default_factory=dict)
    #: Organisations whose internal objects this viewer may read.
    member_of: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    #: (object kind, object id) granted to the viewer or one of their groups.
    granted: frozenset[tuple[str, str]] = frozenset()
    #: None for a browser session or the CLI; "read" or "write" for an API key.
    key_scope: str | None = None

    @property
    def signed_in(self) -> bool:
        """Whether this is a known member (or the command line), not an anonymous visitor."""
        return self.user_id is not None or self.operator

    @property
    def all_powerful(self) -> bool:
        """The command line and site administrators."""
        return self.operator or self.site_admin

    def role_in(self, organisation_id: str | None) -> int:
        """Rank of the viewer's role in an organisation (0: none)."""
        if organisation_id is None:
            return 0
        return _RANK.get(self.roles.get(organisation_id, ""), 0)

    def orgs_with(self, role: str) -> frozenset[str]:
        """Organisations where the viewer holds at least ``role``."""
        least = _RANK[role]
        return frozenset(org for org, held in self.roles.items() if _RANK.get(held, 0) >= least)


ANONYMOUS = Viewer()
OPERATOR = Viewer(name="operator", operator=True)


# --- the organisation tree ------------------------------------------------------------------

def organisation_tree(session: Session) -> dict[str, str | None]:
    """organisation id -> parent id, for resolving inherited roles."""
    return {org_id: parent for org_id, parent in session.execute(
        select(Organisation.id, Organisation.parent_id))}


def _ancestors(tree: Mapping[str, str | None], org: str) -> list[str]:
    out, seen = [], {org}
    parent = tree.get(org)
    while parent is not None and parent not in seen:
        out.append(parent)
        seen.add(parent)
        parent = tree.get(parent)
    return out


def organisations_below(tree: Mapping[str, str | None], org: str) -> set[str]:
    """Every organisation below ``org`` in the tree (not ``org`` itself)."""
    children: dict[str, list[str]] = {}
    for child, parent in tree.items():
        if parent is not None:
            children.setdefault(parent, []).append(child)
    out: set[str] = set()
    stack = [org]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return out


def resolve_roles(tree: Mapping[str, str | None], memberships: Mapping[str, str]
                  ) -> tuple[dict[str, str], frozenset[str]]:
    """(role per organisation, inherited downwards; organisations whose internal objects the
    member may read: the tree above and below each membership) from direct memberships."""
    roles: dict[str, str] = {}
    member_of: set[str] = set()
    for org, role in memberships.items():
        below = organisations_below(tree, org) | {org}
        for target in below:
            if _RANK.get(role, 0) > _RANK.get(roles.get(target, ""), 0):
                roles[target] = role
        member_of |= below | set(_ancestors(tree, org))
    return roles, frozenset(member_of)


# --- deciding -------------------------------------------------------------------------------

def _level_allows(viewer: Viewer, kind: str, object_id: str, access: str, org: str | None) -> bool:
    if access == "public":
        return True
    if access == "internal":
        return org is not None and org in viewer.member_of
    return (kind, object_id) in viewer.granted


def _dataset(viewer: Viewer, action: str, dataset: Dataset) -> bool:
    rank = viewer.role_in(dataset.organisation_id)
    if action == "read":
        if rank >= _RANK["editor"]:
            return True
        return dataset.status == "published" and _level_allows(
            viewer, "dataset", dataset.id, dataset.access, dataset.organisation_id)
    if action in ("edit", "submit"):
        return rank >= _RANK["editor"]
    if action == "comment":
        return viewer.user_id is not None and _dataset(viewer, "read", dataset)
    if action == "report":   # whoever reads it, signed in or not: visitors read public data only
        return _dataset(viewer, "read", dataset)
    return rank >= _RANK["admin"]   # publish, manage (access, grants), delete


def _version(viewer: Viewer, action: str, version: Version) -> bool:
    dataset = version.dataset
    if action == "read":
        if not _dataset(viewer, "read", dataset):
            return False
        return version.status == "published" or viewer.role_in(dataset.organisation_id) >= _RANK["editor"]
    return _dataset(viewer, action, dataset)


def indicator_organisation(indicator: Indicator) -> str | None:
    """The organisation owning an indicator: its own, else its source dataset's."""
    if indicator.organisation_id:
        return indicator.organisation_id
    source = indicator.source
    return source.organisation_id if source is not None else None


def _indicator(viewer: Viewer, action: str, indicator: Indicator) -> bool:
    org = indicator_organisation(indicator)
    rank = viewer.role_in(org)
    if action == "read":
        source = indicator.source
        if source is None or not _dataset(viewer, "read", source):
            return False
        return rank >= _RANK["editor"] or _level_allows(
            viewer, "indicator", indicator.id, indicator.access, org)
    if action == "comment":
        return viewer.user_id is not None and _indicator(viewer, "read", indicator)
    if action in ("edit", "submit", "delete"):
        return rank >= _RANK["editor"]
    return rank >= _RANK["admin"]


def _saved_view(viewer: Viewer, action: str, kind: str, view: Scenario | Dashboard | Chart) -> bool:
    """Scenarios, dashboards and charts: saved by a member under an organisation."""
    org = view.organisation_id
    rank = viewer.role_in(org)
    own = viewer.user_id is not None and view.created_by == viewer.user_id
    if action == "read":
        return own or rank >= _RANK["editor"] or _level_allows(
            viewer, kind, view.id, view.access, org)
    if action == "comment":
        return viewer.user_id is not None and _saved_view(viewer, "read", kind, view)
    if action in ("edit", "delete"):
        return own or rank >= _RANK["editor"]
    return own or rank >= _RANK["admin"]


def _scenario(viewer: Viewer, action: str, scenario: Scenario) -> bool:
    return _saved_view(viewer, action, "scenario", scenario)


def _dashboard(viewer: Viewer, action: str, dashboard: Dashboard) -> bool:
    return _saved_view(viewer, action, "dashboard", dashboard)


def _chart(viewer: Viewer, action: str, chart: Chart) -> bool:
    # A chart shows its dataset's values: it is never looser than the dataset.
    if action in ("read", "comment") and not _dataset(viewer, "read", chart.dataset):
        return False
    return _saved_view(viewer, action, "chart", chart)


def _organisation(viewer: Viewer, action: str, org: Organisation) -> bool:
    if action == "read":
        return True
    if action == "create":   # creating objects (datasets, indicators) owned by this organisation
        return viewer.role_in(org.id) >= _RANK["editor"]
    return viewer.role_in(org.id) >= _RANK["admin"]   # manage members, look, child organisations


#: Deciders by the class of the object asked about (threads need the object: see ``thread_allowed``).
_DECIDERS: dict[type, Callable[[Viewer, str, Any], bool]] = {
    Dataset: _dataset, Version: _version, Indicator: _indicator, Scenario: _scenario,
    Organisation: _organisation, Dashboard: _dashboard, Chart: _chart,
}


def allowed(viewer: Viewer, action: str, target: Any) -> bool:
    """Whether ``viewer`` may do ``action`` to ``target`` (a dataset, version, indicator,
    scenario, dashboard, chart or organisation)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if action in WRITE_ACTIONS and viewer.key_scope == "read":
        return False
    if viewer.all_powerful:
        return True
    decide = _DECIDERS.get(type(target))
    if decide is None:
        raise TypeError(f"no access rule for {type(target).__name__}")
    return decide(viewer, action, target)


def thread_allowed(viewer: Viewer, action: str, thread: Thread, subject: Any) -> bool:
    """Whether ``viewer`` may read or reply to ``thread`` about ``subject`` (the object the
    thread is about): the subject's readers, and for an internal thread only the members of
    the subject's organisations."""
    if action == "comment" and (viewer.key_scope == "read" or not viewer.signed_in):
        return False
    if viewer.all_powerful:
        return True
    if not allowed(viewer, "read", subject):
        return False
    if thread.internal:
        org = _subject_organisation(subject)
        return org is not None and (org in viewer.member_of or viewer.role_in(org) > 0)
    return True


def _subject_organisation(subject: Any) -> str | None:
    if isinstance(subject, Indicator):
        return indicator_organisation(subject)
    return getattr(subject, "organisation_id", None)


def may_create_organisation(viewer: Viewer, parent: Organisation | None) -> bool:
    """Site administrators create top-level organisations; an organisation's admins create
    organisations below it."""
    if viewer.key_scope == "read":
        return False
    if viewer.all_powerful:
        return True
    return parent is not None and viewer.role_in(parent.id) >= _RANK["admin"]


def may_administer_site(viewer: Viewer) -> bool:
    """Users, partner groups and the audit log: site administrators and the command line."""
    return viewer.all_powerful and viewer.key_scope != "read"


# --- the same rules as SQL filters, for listings and counts ---------------------------------

def _granted_ids(viewer: Viewer, kind: str) -> list[str]:
    return sorted(object_id for granted_kind, object_id in viewer.granted if granted_kind == kind)


def visible_datasets(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL filter equivalent to ``allowed(viewer, "read", dataset)``."""
    if viewer.all_powerful:
        return true()
    published = Dataset.status == "published"
    clauses = [and_(published, Dataset.access == "public")]
    if viewer.member_of:
        clauses.append(and_(published, Dataset.access == "internal",
                            Dataset.organisation_id.in_(sorted(viewer.member_of))))
    granted = _granted_ids(viewer, "dataset")
    if granted:
        clauses.append(and_(published, Dataset.access == "restricted", Dataset.id.in_(granted)))
    editors = viewer.orgs_with("editor")
    if editors:
        clauses.append(Dataset.organisation_id.in_(sorted(editors)))
    return or_(*clauses)


def visible_indicators(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL filter equivalent to ``allowed(viewer, "read", indicator)`` (its source dataset
    must be readable too)."""
    if viewer.all_powerful:
        return true()
    readable_sources = select(Dataset.id).where(visible_datasets(viewer)).scalar_subquery()
    owner = Indicator.organisation_id
    source_org = select(Dataset.organisation_id).where(
        Dataset.id == Indicator.dataset_id).scalar_subquery()
    clauses = [Indicator.access == "public"]
    if viewer.member_of:
        members = sorted(viewer.member_of)
        clauses.append(and_(Indicator.access == "internal", or_(
            owner.in_(members), and_(owner.is_(None), source_org.in_(members)))))
    granted = _granted_ids(viewer, "indicator")
    if granted:
        clauses.append(and_(Indicator.access == "restricted", Indicator.id.in_(granted)))
    editors = sorted(viewer.orgs_with("editor"))
    if editors:
        clauses.append(or_(owner.in_(editors), and_(owner.is_(None), source_org.in_(editors))))
    return and_(Indicator.dataset_id.in_(readable_sources), or_(*clauses))


def _visible_saved(viewer: Viewer, model: type[Scenario | Dashboard | Chart],
                   kind: str) -> ColumnElement[bool]:
    """The SQL filter equivalent to ``_saved_view(viewer, "read", kind, ...)``."""
    if viewer.all_powerful:
        return true()
    clauses = [model.access == "public"]
    if viewer.user_id is not None:
        clauses.append(model.created_by == viewer.user_id)
    if viewer.member_of:
        clauses.append(and_(model.access == "internal",
                            model.organisation_id.in_(sorted(viewer.member_of))))
    granted = _granted_ids(viewer, kind)
    if granted:
        clauses.append(and_(model.access == "restricted", model.id.in_(granted)))
    editors = sorted(viewer.orgs_with("editor"))
    if editors:
        clauses.append(model.organisation_id.in_(editors))
    return or_(*clauses) if clauses else false()


def visible_scenarios(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL filter equivalent to ``allowed(viewer, "read", scenario)``."""
    return _visible_saved(viewer, Scenario, "scenario")


def visible_dashboards(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL filter equivalent to ``allowed(viewer, "read", dashboard)``."""
    return _visible_saved(viewer, Dashboard, "dashboard")


def visible_charts(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL filter equivalent to ``allowed(viewer, "read", chart)`` (its dataset must be
    readable too)."""
    if viewer.all_powerful:
        return true()
    readable = select(Dataset.id).where(visible_datasets(viewer)).scalar_subquery()
    return and_(Chart.dataset_id.in_(readable), _visible_saved(viewer, Chart, "chart"))


# --- fetching what one may see ------------------------------------------------------------

def require(viewer: Viewer, action: str, target: Any, *, what: str) -> None:
    """Raise unless ``viewer`` may do ``action`` to ``target``: ``NotFound`` to those who may
    not even read it (they must not learn it exists), ``Unauthenticated`` to anonymous
    visitors asking to change something, ``Forbidden`` to the others."""
    if allowed(viewer, action, target):
        return
    if action != "read" and not allowed(viewer, "read", target):
        raise NotFound(f"no {what}")
    if action != "read" and not viewer.signed_in:
        raise Unauthenticated(f"sign in to change {what}")
    if action != "read" and viewer.key_scope == "read":
        raise Forbidden(f"this API key may only read; {what} cannot be changed with it")
    if action == "read":
        raise NotFound(f"no {what}")
    raise Forbidden(f"you may not {action} {what}")


def readable_dataset(session: Session, viewer: Viewer, key: str) -> Dataset:
    """The dataset ``key`` if ``viewer`` may read it; otherwise NotFound (never Forbidden,
    so that callers cannot learn that a hidden dataset exists)."""
    from mutuelle.catalog.repository import get_dataset

    try:
        dataset = get_dataset(session, key)
    except NotFound:
        raise NotFound(f"no dataset {key!r}") from None
    require(viewer, "read", dataset, what=f"dataset {key!r}")
    return dataset


def dataset_for(session: Session, viewer: Viewer, action: str, key: str) -> Dataset:
    """The dataset ``key`` if ``viewer`` may do ``action`` to it (see ``require``)."""
    from mutuelle.catalog.repository import get_dataset

    try:
        dataset = get_dataset(session, key)
    except NotFound:
        raise NotFound(f"no dataset {key!r}") from None
    require(viewer, action, dataset, what=f"dataset {key!r}")
    return dataset


def editable_dataset(session: Session, viewer: Viewer, key: str) -> Dataset:
    """The dataset ``key`` if ``viewer`` may change it (NotFound if it may not even read it)."""
    return dataset_for(session, viewer, "edit", key)


def readable_version(viewer: Viewer, version: Version, *, what: str) -> Version:
    """``version`` if ``viewer`` may read it (drafts are for editors), else NotFound."""
    require(viewer, "read", version, what=what)
    return version


def readable_indicator(session: Session, viewer: Viewer, key: str) -> Indicator:
    """The indicator ``key`` if ``viewer`` may read it (and its source); otherwise NotFound."""
    indicator = session.get(Indicator, key)
    if indicator is None:
        raise NotFound(f"no indicator {key!r}")
    require(viewer, "read", indicator, what=f"indicator {key!r}")
    return indicator


def readable_scenario(session: Session, viewer: Viewer, key: str) -> Scenario:
    """The scenario ``key`` if ``viewer`` may open it; otherwise NotFound."""
    scenario = session.get(Scenario, key)
    if scenario is None:
        raise NotFound(f"no scenario {key!r}")
    require(viewer, "read", scenario, what=f"scenario {key!r}")
    return scenario


def readable_dashboard(session: Session, viewer: Viewer, key: str) -> Dashboard:
    """The dashboard ``key`` if ``viewer`` may open it; otherwise NotFound."""
    dashboard = session.get(Dashboard, key) if len(key) <= 16 else None
    if dashboard is None:
        raise NotFound(f"no dashboard {key!r}")
    require(viewer, "read", dashboard, what=f"dashboard {key!r}")
    return dashboard


def readable_chart(session: Session, viewer: Viewer, key: str) -> Chart:
    """The chart ``key`` if ``viewer`` may open it (and read its dataset); otherwise NotFound."""
    chart = session.get(Chart, key) if len(key) <= 16 else None
    if chart is None:
        raise NotFound(f"no chart {key!r}")
    require(viewer, "read", chart, what=f"chart {key!r}")
    return chart


def cache_control(public: bool, *, immutable: bool = False, max_age: int = 300) -> str:
    """The Cache-Control of an answer: only what anyone may read is ``public``; everything
    else is ``private, no-store`` so that no shared cache keeps it."""
    if not public:
        return "private, no-store"
    if immutable:
        return "public, max-age=31536000, immutable"
    return f"public, max-age={max_age}"


def publicly_readable(target: Any) -> bool:
    """Whether an anonymous visitor may read ``target`` (so its answers may be cached by anyone)."""
    return allowed(ANONYMOUS, "read", target)



def may_create_datasets(viewer: Viewer) -> bool:
    """Whether ``viewer`` is an editor somewhere (or all-powerful): the "new dataset" link."""
    if viewer.key_scope == "read":
        return False
    return viewer.all_powerful or bool(viewer.orgs_with("editor"))


def may_define_indicators(viewer: Viewer) -> bool:
    """Whether ``viewer`` may define indicators (the form, the preview): an editor somewhere;
    saving one needs ``create`` on the organisation owning it and reading its source dataset."""
    return may_create_datasets(viewer)


def may_see_members(viewer: Viewer, org: Organisation) -> bool:
    """Members of an organisation (and of those above it) see who else is; admins manage them."""
    return viewer.all_powerful or viewer.role_in(org.id) > 0


def may_file_under(viewer: Viewer, org: Organisation) -> bool:
    """Whether ``viewer`` may file an object they own (a scenario) under ``org``: its members."""
    return viewer.key_scope != "read" and (viewer.all_powerful or viewer.role_in(org.id) > 0)
