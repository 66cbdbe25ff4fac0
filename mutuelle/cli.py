"""The command line: the same service functions the API and the pages call."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from typer.core import TyperGroup
from uvicorn.protocols.http.h11_impl import H11Protocol

from mutuelle.core.config import describe_settings, load_settings, settings_markdown
from mutuelle.core.errors import MutuelleError


class _Commands(TyperGroup):
    """Every command: a full disk, an unwritable store or a lack of memory, wherever it
    happens, ends it with one line saying what and where (exit 2), never a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except typer.Exit:  # _fail's own exit, whose context is the error it reported
            raise
        except Exception as exc:
            from mutuelle.store.resources import resource_error

            problem = resource_error(exc, load_settings())
            if problem is None:
                raise
            _fail(problem)


app = typer.Typer(help="mutuelle: a territorial data commons.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=_Commands)
db_app = typer.Typer(help="The catalogue database.")
datasets_app = typer.Typer(help="Datasets of the catalogue.")
orgs_app = typer.Typer(help="Organisations (cities, territories, partners).")
geo_app = typer.Typer(help="The territorial referential (IRIS, communes, EPCI, QPV...).")
indicators_app = typer.Typer(help="Indicators of the observatory.")
app.add_typer(geo_app, name="geo")
app.add_typer(indicators_app, name="indicators")
app.add_typer(db_app, name="db")
app.add_typer(datasets_app, name="datasets")
app.add_typer(orgs_app, name="orgs")
console = Console()
err = Console(stderr=True)


def _session():  # type: ignore[no-untyped-def]
    from mutuelle.catalog.db import sessions, upgrade
    from mutuelle.ingest.service import recover_imports

    settings = load_settings()
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings)
    recover_imports(settings, sessions(settings))  # what a killed import left
    return settings, sessions(settings)()


def _fail(exc: MutuelleError) -> None:
    err.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the catalogue schema (SQLite or PostgreSQL)."""
    from mutuelle.catalog.db import upgrade

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings)
    console.print(f"catalogue up to date: {settings.catalog_url.split('@')[-1]}")


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with TCP_NODELAY on every connection. With ``--workers``,
    uvicorn binds the listening socket itself with protocol 0, and asyncio then leaves Nagle's
    algorithm on for the connections it accepts: each answer written in two parts waited for
    the client's delayed ACK, 40 ms per call (``bench/api.py`` measured 48 ms wall for a
    3.4 ms answer)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]


#: How long ``serve`` keeps an idle connection open (nginx's default).
KEEP_ALIVE_SECONDS = 75


@app.command()
def serve(host: str | None = None, port: int | None = None,
          workers: Annotated[int, typer.Option(help="worker processes")] = 1,
          warm_up: Annotated[bool, typer.Option(
              help="load the contours and compute the indicators in the background at start")] = True
          ) -> None:
    """Serve the portal (API and pages)."""
    import uvicorn

    # read by each worker's app; MUTUELLE_WARM_UP=0 in the environment keeps it off
    if warm_up:
        os.environ.setdefault("MUTUELLE_WARM_UP", "1")
    else:
        os.environ["MUTUELLE_WARM_UP"] = "0"
    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    # Migrated once, here: workers each migrating a new catalogue at once would race (on
    # PostgreSQL, both create the same tables and one dies); they then find it up to date.
    settings, session = _session()
    session.close()
    console.print(f"mutuelle is serving on [bold]http://{host}:{port}/[/] (data in {settings.home})")
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        _serve_workers(host, port, workers)
        return
    uvicorn.run("mutuelle.app:create_app", factory=True, host=host, port=port, workers=workers,
                **_UVICORN)


#: Idle connections are kept KEEP_ALIVE_SECONDS: longer than clients keep theirs (httpx 5 s),
#: so that a client never reuses one the server is closing at the same instant.
_UVICORN: dict[str, Any] = {"log_level": "warning", "http": NoDelayH11Protocol,
                            "timeout_keep_alive": KEEP_ALIVE_SECONDS}


def _worker_socket(host: str, port: int) -> socket.socket:
    """A listening socket of one worker's own, bound with SO_REUSEPORT beside the others: the
    kernel spreads new connections evenly over the workers' sockets. On one shared socket
    (uvicorn's way) the first worker to wake takes most of a burst: under 100 clients one
    worker held 86 connections and the other 14, half the CPU idle (``bench/api.py``)."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_worker(host: str, port: int) -> None:
    """One worker process: the app served on a socket of its own (see ``_worker_socket``)."""
    import uvicorn

    sock = _worker_socket(host, port)
    config = uvicorn.Config("mutuelle.app:create_app", factory=True, **_UVICORN)
    uvicorn.Server(config).run(sockets=[sock])


def _serve_workers(host: str, port: int, workers: int) -> None:
    """``workers`` processes, each on its own SO_REUSEPORT socket, until SIGINT or SIGTERM
    (passed on to them: each finishes its requests); a worker that dies is started again."""
    import multiprocessing
    import signal
    import time

    spawn = multiprocessing.get_context("spawn")
    started = [spawn.Process(target=_run_worker, args=(host, port), daemon=False)
               for _ in range(workers)]
    for process in started:
        process.start()
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in started:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for number, process in enumerate(started):
            if not process.is_alive() and not stopping:
                err.print(f"worker {process.pid} stopped (exit code {process.exitcode}): started again")
                started[number] = spawn.Process(target=_run_worker, args=(host, port))
                started[number].start()
        time.sleep(0.5)
    for process in started:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


@app.command()
def demo(seed: int = 2026,
         if_empty: Annotated[bool, typer.Option("--if-empty", help="only when the catalogue is empty")] = False
         ) -> None:
    """Load the SYNTHETIC demo territory (organisations and datasets)."""
    from mutuelle.demo.load import catalogue_is_empty, load_demo

    settings, session = _session()
    with session:
        if if_empty and not catalogue_is_empty(session):
            console.print("catalogue not empty: demo not loaded")
            return
        with console.status("generating and importing the synthetic demo territory..."):
            try:
                loaded = load_demo(session, settings, seed=seed)
            except MutuelleError as exc:
                _fail(exc)
        console.print(f"demo loaded: {len(loaded)} datasets (synthetic data)")


def _progress_bar() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=err, transient=True)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    dataset: Annotated[str | None, typer.Option(help="slug of the dataset (created if missing)")] = None,
    organisation: Annotated[str | None, typer.Option(help="owner organisation slug (new datasets)")] = None,
    title: Annotated[str | None, typer.Option(help="title of a new dataset")] = None,
    encoding: Annotated[str | None, typer.Option(help="text encoding of a CSV or of a Shapefile's "
                                                "attribute table (.dbf); refused for GeoJSON, "
                                                "GeoPackage and spreadsheets")] = None,
    delimiter: str | None = None, sheet: str | None = None,
    header_row: int | None = None,
    type_: Annotated[list[str] | None, typer.Option("--type", help="override: column=type")] = None,
    allow_ragged: bool = False,
    crs: Annotated[str | None, typer.Option(help="source CRS when the file has none, e.g. EPSG:2154")] = None,
    fix_text: Annotated[bool, typer.Option(help="repair mojibake ('Ã©' for 'é') with ftfy")] = False,
    draft: Annotated[bool, typer.Option(help="keep the version as a draft")] = False,
) -> None:
    """Import a file (CSV, Excel, ODS, GeoJSON, zipped Shapefile, GeoPackage) as a new version."""
    from mutuelle.ingest.uploads import import_options
    from mutuelle.catalog import repository as repo
    from mutuelle.core.ids import slugify
    from mutuelle.ingest.service import import_file

    settings, session = _session()
    with session:
        try:
            options = import_options(encoding=encoding, delimiter=delimiter, sheet=sheet,
                                     header_row=header_row, types=",".join(type_ or []),
                                     allow_ragged=allow_ragged, source_crs=crs,
                                     fix_text=fix_text)
            slug = dataset or slugify(file.stem)
            try:
                target = repo.get_dataset(session, slug)
            except MutuelleError:
                org_slug = organisation or "local"
                try:
                    org = repo.get_organisation(session, org_slug)
                except MutuelleError:
                    org = repo.new_organisation(session, name=org_slug.capitalize(), slug=org_slug)
                # saved with its first version: a failed first import leaves no dataset
                target = repo.new_dataset(session, organisation=org, title=title or file.stem, slug=slug)
            with _progress_bar() as bar:
                task = bar.add_task(f"importing {file.name}", total=file.stat().st_size)
                version = import_file(
                    session, settings, target, file, options=options, publish=not draft,
                    author="cli", progress=lambda done, total: bar.update(task, completed=done, total=total))
            from mutuelle.access.policy import OPERATOR
            from mutuelle.members import workflow

            workflow.version_published(session, OPERATOR, target, version)
            if not draft and target.status != "published":
                workflow.publish(session, OPERATOR, target)
            session.commit()
        except MutuelleError as exc:
            _fail(exc)
        table = Table(title=f"{target.slug} v{version.number}: {version.row_count:,} rows ({version.format})")
        for col in ("column", "type", "concept", "note"):
            table.add_column(col)
        for f in version.fields:
            table.add_row(f.name, f.type, f.concept or "", "" if f.source_name in (None, f.name) else f"from {f.source_name!r}")
        console.print(table)
        for key, value in version.detected.items():
            console.print(f"  detected {key}: {value}")
        for warning in version.warnings:
            console.print(f"  [yellow]warning:[/] {warning}")


@datasets_app.command("list")
def datasets_list(
        q: Annotated[str | None, typer.Option(help="search text (ranked, French stems, typos "
                                                   "forgiven: as the web catalogue)")] = None,
        organisation: Annotated[str | None, typer.Option(help="organisation slug")] = None,
        theme: str | None = None,
        sort: Annotated[str | None, typer.Option(
            help="relevance, title, -title, modified, -modified, published, -published, "
                 "popularity, -popularity (default: relevance with a search, else title)")] = None,
        as_member: Annotated[str | None, typer.Option(
            "--as", help="list what this member (e-mail) may see, or 'anonymous' for a "
                         "visitor; by default the operator sees everything")] = None,
        limit: int = 1000,
        as_json: Annotated[bool, typer.Option("--json", help="JSON: total and datasets")] = False,
) -> None:
    """List the datasets of the catalogue, searched and filtered as the web catalogue does."""
    import json

    from mutuelle.access import accounts
    from mutuelle.access.policy import ANONYMOUS, OPERATOR, visible_datasets
    from mutuelle.access.viewers import viewer_of_user
    from mutuelle.catalog import repository as repo
    from mutuelle.catalog.serialize import dataset_json

    _, session = _session()
    with session:
        try:
            viewer = OPERATOR
            if as_member == "anonymous":
                viewer = ANONYMOUS
            elif as_member:
                viewer = viewer_of_user(session, accounts.get_user(session, as_member))
            total, rows = repo.list_datasets(session, visible=visible_datasets(viewer), q=q,
                                             organisation=organisation, theme=theme, sort=sort,
                                             limit=limit)
        except MutuelleError as exc:
            _fail(exc)
        if as_json:
            console.print_json(json.dumps({"total": total, "datasets": [
                {"slug": d.slug, "title": d.title, "access": d.access, "status": d.status}
                for d in rows]}))
            return
        table = Table(title=f"{total} datasets")
        for col in ("slug", "title", "organisation", "status", "version", "rows"):
            table.add_column(col)
        for d in rows:
            j = dataset_json(d)
            table.add_row(d.slug, d.title, j["organisation"], d.status, str(j["latest_version"] or ""),
                          f"{j['row_count']:,}" if j["row_count"] is not None else "")
        console.print(table)


@datasets_app.command("publish")
def datasets_publish(slug: str) -> None:
    """Publish a draft dataset."""
    from mutuelle.access.policy import OPERATOR
    from mutuelle.catalog import repository as repo
    from mutuelle.members import workflow

    _, session = _session()
    with session:
        try:
            workflow.publish(session, OPERATOR, repo.get_dataset(session, slug))
            session.commit()
        except MutuelleError as exc:
            _fail(exc)
        console.print(f"{slug} published")


@orgs_app.command("add")
def orgs_add(slug: str, name: str, kind: str = "city", siren: str | None = None,
             parent: str | None = None) -> None:
    """Add an organisation (a territory, a member city below it with --parent, a partner)."""
    from mutuelle.access.policy import OPERATOR
    from mutuelle.catalog import repository as repo
    from mutuelle.members import admin

    _, session = _session()
    with session:
        try:
            parent_org = repo.get_organisation(session, parent) if parent else None
            admin.create_organisation(session, OPERATOR, name=name, slug=slug, kind=kind, siren=siren,
                                      parent=parent_org)
            session.commit()
        except MutuelleError as exc:
            _fail(exc)
        console.print(f"organisation {slug} added")


@orgs_app.command("list")
def orgs_list() -> None:
    """List organisations."""
    from mutuelle.catalog import repository as repo

    _, session = _session()
    with session:
        for org in repo.list_organisations(session):
            console.print(f"{org.slug}\t{org.kind}\t{org.name}")


@geo_app.command("import")
def geo_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    level: Annotated[str, typer.Option(help="iris, commune, epci, departement, region or qpv")],
    vintage: Annotated[int | None, typer.Option(help="millésime (year of the geography)")] = None,
    crs: Annotated[str | None, typer.Option(help="source CRS when the file has none")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="role=column, e.g. code=CODE_IRIS")] = None,
) -> None:
    """Import official contours (IGN CONTOURS-IRIS, communes, QPV...) into the referential."""
    from mutuelle.geo.referential import import_territories

    settings, session = _session()
    with session:
        try:
            mapping = dict(m.split("=", 1) for m in map_ or []) or None
            with console.status(f"importing {file.name} as {level}..."):
                report = import_territories(session, settings, file, level=level,
                                            vintage=vintage or settings.default_vintage,
                                            source_crs=crs, mapping=mapping)
        except (MutuelleError, ValueError) as exc:
            _fail(exc if isinstance(exc, MutuelleError) else MutuelleError(f"--map must be role=column: {exc}"))
        console.print(f"{report.level} {report.vintage}: {report.imported} territories "
                      f"({report.inserted} new, {report.updated} updated, {report.removed} removed, "
                      f"{report.with_geometry} with geometry) in {report.seconds:.1f} s")
        console.print(f"  columns: {report.mapping}")
        for code, count in report.unknown_parents.items():
            console.print(f"  [yellow]unknown parent[/] {code}: {count} territories")
        for warning in report.warnings:
            console.print(f"  [yellow]warning:[/] {warning}")


@geo_app.command("cog")
def geo_cog(vintage: int | None = None,
            departement: Annotated[list[str] | None, typer.Option(help="limit to these départements")] = None
            ) -> None:
    """Load INSEE's Code officiel géographique (communes, EPCI, départements, régions)."""
    from mutuelle.geo.cog import load_cog
    from mutuelle.geo.referential import check_vintage

    settings, session = _session()
    with session:
        try:
            with console.status("loading the Code officiel géographique..."):
                report = load_cog(session, settings,
                                  check_vintage(vintage or settings.default_vintage), departement)
        except MutuelleError as exc:
            _fail(exc)
        console.print(report)


@geo_app.command("search")
def geo_search(q: str, level: str | None = None) -> None:
    """Find territories by name or code."""
    from mutuelle.geo.referential import search_territories

    _, session = _session()
    with session:
        try:
            for t in search_territories(session, q, level=level):
                console.print(f"{t.level}\t{t.code}\t{t.name}\t{t.vintage}")
        except MutuelleError as exc:
            _fail(exc)


@indicators_app.command("list")
def indicators_list(theme: str | None = None) -> None:
    """List the indicators."""
    from mutuelle.observatory.indicators import list_indicators

    _, session = _session()
    with session:
        table = Table(title="indicators")
        for col in ("id", "label", "theme", "unit"):
            table.add_column(col)
        for ind in list_indicators(session, theme=theme):
            table.add_row(ind.id, ind.label, ind.theme, ind.unit)
        console.print(table)


@indicators_app.command("add")
def indicators_add(
    indicator: Annotated[str, typer.Argument(help="id of the new indicator (lower-case, digits, hyphens)")],
    dataset: Annotated[str, typer.Option(help="slug of the source dataset")],
    code_column: Annotated[str, typer.Option(help="column of the codes (or of the points)")],
    numerator: Annotated[str, typer.Option(help="ODSQL expression summed over the rows")] = "",
    level: Annotated[str, typer.Option(help="iris, commune, epci, departement, region or qpv")] = "iris",
    denominator: Annotated[str, typer.Option(help="ODSQL expression; empty for a sum")] = "",
    filters: Annotated[str, typer.Option(help="ODSQL condition on the rows")] = "",
    points: Annotated[str | None, typer.Option(help="count, sum or mean of points per territory")] = None,
    vintage: Annotated[int | None, typer.Option(help="millésime of the codes (default: found from them)")] = None,
    label: Annotated[str | None, typer.Option(help="label (default: the id)")] = None,
    unit: str = "",
    scale: float = 1.0,
    secrecy: Annotated[int | None, typer.Option(help="statistical secrecy threshold")] = None,
    habitat_only: Annotated[bool, typer.Option("--habitat-only", help="only IRIS of habitat")] = False,
    min_coverage: Annotated[int | None, typer.Option(help="% of coverage under which a larger territory is withheld")] = None,
    theme: str = "",
    organisation: Annotated[str | None, typer.Option(help="owner (default: the dataset's)")] = None,
    access: str = "public",
) -> None:
    """Define an indicator from a dataset: checked, computed and saved (or refused, naming the field)."""
    from mutuelle.access.policy import OPERATOR
    from mutuelle.observatory.definitions import Definition, create_indicator

    settings, session = _session()
    with session:
        try:
            made, found = create_indicator(session, settings, OPERATOR, Definition(
                id=indicator, label=label or indicator, dataset=dataset, level=level,
                code_column=code_column, numerator=numerator, denominator=denominator,
                filters=filters, points=points, vintage=vintage, unit=unit, scale=scale,
                secrecy=secrecy, habitat_only=habitat_only, min_coverage=min_coverage,
                theme=theme, organisation=organisation, access=access))
            session.commit()
        except MutuelleError as exc:
            session.rollback()
            _fail(exc)
        computed = found.computed
        console.print(f"indicator {made.id} saved: {made.label} ({made.code_level} codes of "
                      f"{computed.referential.vintage}, vintage {found.vintage_reason})")
        for lv, values in computed.levels.items():
            counts: dict[str, int] = {}
            for v in values.values():
                counts[v.status] = counts.get(v.status, 0) + 1
            console.print(f"  {lv}: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
        _print_matching(computed)


def _print_matching(computed: Any) -> None:
    """Codes matching no territory, codes followed to their vintage, points outside."""
    from mutuelle.observatory.maps import matching_json

    found = matching_json(computed)
    if found["unmatched_count"]:
        codes = ", ".join(u["code"] for u in found["unmatched"])
        err.print(f"[yellow]{found['unmatched_count']} code(s) on {found['unmatched_rows']} row(s) "
                  f"match no territory of {computed.referential.vintage}:[/] {escape(codes)}",
                  soft_wrap=True)
    if found["passed"]:
        err.print(f"{len(found['passed'])} code(s) of an earlier vintage followed through the COG's "
                  "passages: " + ", ".join(f"{p['from']} → {p['to']}" for p in found["passed"]),
                  soft_wrap=True)
    if found["points_outside"]:
        err.print(f"[yellow]{found['points_outside']} of {found['points']} point(s) lie inside no "
                  "territory[/]")


@indicators_app.command("values")
def indicators_values(indicator: str, level: str = "commune", vintage: int | None = None,
                      format_: Annotated[str, typer.Option(
                          "--format", help="table, or json: a list of {code, name, value, status, coverage}")] = "table"
                      ) -> None:
    """An indicator's values at one level (secret cells shown as such), and the codes that
    matched no territory (on standard error)."""
    import json

    from mutuelle.access.policy import OPERATOR, readable_indicator
    from mutuelle.observatory.compute import compute_indicator

    if format_ not in ("table", "json"):
        _fail(MutuelleError(f"--format must be table or json, not {format_!r}"))
    settings, session = _session()
    with session:
        try:
            computed = compute_indicator(session, settings,
                                         readable_indicator(session, OPERATOR, indicator),
                                         vintage=vintage)
            values = computed.values(level)
        except MutuelleError as exc:
            _fail(exc)
        if format_ == "json":
            typer.echo(json.dumps([
                {"code": v.code, "name": v.name, "value": v.value if v.status == "ok" else None,
                 "status": v.status, "coverage": None if v.coverage is None else round(v.coverage, 4)}
                for v in values], ensure_ascii=False, indent=1))
        else:
            table = Table(title=f"{indicator} by {level} ({computed.referential.vintage})")
            for col in ("code", "name", "value", "status", "coverage"):
                table.add_column(col)
            for v in values:
                table.add_row(v.code, v.name, "" if v.value is None or v.status != "ok" else f"{v.value:.4g}",
                              v.status, "" if v.coverage is None else f"{100 * v.coverage:.0f} %")
            console.print(table)
        _print_matching(computed)


@indicators_app.command("delete")
def indicators_delete(indicator: str) -> None:
    """Delete an indicator's definition (its dataset is untouched)."""
    from mutuelle.access.policy import OPERATOR
    from mutuelle.observatory.definitions import remove_indicator

    _settings, session = _session()
    with session:
        try:
            remove_indicator(session, OPERATOR, indicator)
            session.commit()
        except MutuelleError as exc:
            _fail(exc)
        console.print(f"indicator {indicator} deleted")


@app.command("settings")
def settings_command(
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="print docs/configuration.md instead of a table")] = False,
) -> None:
    """Show every setting, its default and what it is for."""
    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    table = Table(title="MUTUELLE_* settings")
    for col in ("variable", "default", "description"):
        table.add_column(col)
    for row in describe_settings():
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    app()


# --- members: users, keys, groups, the audit log --------------------------------------------

users_app = typer.Typer(help="Member accounts and their roles.")
keys_app = typer.Typer(help="API keys (sent as 'Authorization: Apikey <key>' or ?apikey=).")
groups_app = typer.Typer(help="Partner groups, that restricted objects are granted to.")
audit_app = typer.Typer(help="The audit log.")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(groups_app, name="groups")
app.add_typer(audit_app, name="audit")


@users_app.command("add")
def users_add(email: str, name: str = typer.Option("", help="display name"),
              org: str | None = typer.Option(None, help="organisation slug"),
              role: str = typer.Option("viewer", help="viewer, editor or admin (with --org)"),
              site_admin: bool = typer.Option(False, "--site-admin", help="site administrator")) -> None:
    """Create an account; prints its one-time password (to be changed at first sign-in)."""
    from mutuelle.access.policy import OPERATOR
    from mutuelle.catalog import repository as repo
    from mutuelle.members import admin

    _settings, session = _session()
    try:
        user, one_time = admin.create_member(session, OPERATOR, email=email, display_name=name,
                                             site_admin=site_admin)
        if org:
            admin.set_member_role(session, OPERATOR, repo.get_organisation(session, org), user, role)
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"account {user.email} created; one-time password: [bold]{one_time}[/]", soft_wrap=True)


@users_app.command("list")
def users_list() -> None:
    """Every account, with its roles."""
    from mutuelle.access import accounts
    from mutuelle.catalog.models import Organisation

    _settings, session = _session()
    orgs = {o.id: o.slug for o in session.query(Organisation)}
    table = Table("email", "name", "site admin", "roles", "disabled", "last sign-in")
    for user in accounts.list_users(session):
        roles = ", ".join(f"{orgs.get(org, org)}:{role}"
                          for org, role in sorted(accounts.memberships(session, user.id).items()))
        table.add_row(user.email, user.display_name, "yes" if user.is_admin else "",
                      roles, "yes" if user.disabled else "",
                      user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "")
    console.print(table)


@users_app.command("disable")
def users_disable(email: str, enable: bool = typer.Option(False, "--enable", help="enable again")) -> None:
    """Disable an account (its sessions and keys stop working at once)."""
    from mutuelle.access import accounts
    from mutuelle.access.policy import OPERATOR
    from mutuelle.members import admin

    _settings, session = _session()
    try:
        user = accounts.get_user(session, email)
        admin.disable_member(session, OPERATOR, user, not enable)
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"{user.email} {'enabled' if enable else 'disabled'}")


@users_app.command("set-role")
def users_set_role(email: str, org: str, role: str = typer.Argument(
        ..., help="viewer, editor, admin, or none to remove")) -> None:
    """Give a member a role in an organisation (and the organisations below it)."""
    from mutuelle.access import accounts
    from mutuelle.access.policy import OPERATOR
    from mutuelle.catalog import repository as repo
    from mutuelle.members import admin

    _settings, session = _session()
    try:
        user = accounts.get_user(session, email)
        admin.set_member_role(session, OPERATOR, repo.get_organisation(session, org), user,
                              None if role == "none" else role)
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"{user.email}: {role} in {org}")


@users_app.command("reset-password")
def users_reset_password(email: str) -> None:
    """A new one-time password for an account (its sessions end)."""
    from mutuelle.access import accounts
    from mutuelle.access.policy import OPERATOR
    from mutuelle.members import admin

    _settings, session = _session()
    try:
        user = accounts.get_user(session, email)
        one_time = admin.reset_member_password(session, OPERATOR, user)
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"one-time password for {user.email}: [bold]{one_time}[/]", soft_wrap=True)


@users_app.command("bootstrap")
def users_bootstrap() -> None:
    """On a catalogue without accounts, create the first administrator and print its one-time
    password (``make run`` calls this); otherwise do nothing."""
    from mutuelle.access import accounts, audit
    from mutuelle.access.policy import OPERATOR

    _settings, session = _session()
    one_time = accounts.ensure_first_admin(session)
    if one_time is None:
        return
    audit.record(session, OPERATOR, "user.create", kind="user",
                 detail={"email": accounts.FIRST_ADMIN_EMAIL, "first_admin": True})
    session.commit()
    console.print(f"first administrator: [bold]{accounts.FIRST_ADMIN_EMAIL}[/], one-time password: "
                  f"[bold]{one_time}[/] (sign in at /connexion and choose a new one)", soft_wrap=True)


@keys_app.command("create")
def keys_create(email: str, name: str = typer.Option("", help="what the key is for"),
                scope: str = typer.Option("read", help="read or write"),
                days: int | None = typer.Option(None, help="expires after this many days")) -> None:
    """Create an API key for a member; the key is printed once."""
    from datetime import timedelta

    from mutuelle.access import accounts, audit, keys
    from mutuelle.access.policy import OPERATOR
    from mutuelle.core.clock import now

    _settings, session = _session()
    try:
        user = accounts.get_user(session, email)
        made = keys.create_key(session, user, name=name, scope=scope,
                               expires_at=now() + timedelta(days=days) if days else None)
        audit.record(session, OPERATOR, "key.create", kind="api_key", object_id=made.key.id,
                     detail={"user": user.email, "scope": scope})
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    typer.echo(made.secret)  # plain: a script reads it


@keys_app.command("list")
def keys_list(email: Annotated[str | None, typer.Argument(help="the member's email")] = None) -> None:
    """API keys (never their secret), of one member or of all."""
    from mutuelle.access import accounts, keys

    _settings, session = _session()
    try:
        user = accounts.get_user(session, email) if email else None
    except MutuelleError as exc:
        _fail(exc)
    owners = {u.id: u.email for u in accounts.list_users(session)}
    table = Table("id", "prefix", "owner", "name", "scope", "expires", "revoked", "last used")
    for key in keys.list_keys(session, user):
        table.add_row(key.id, key.prefix, owners.get(key.user_id, ""), key.name, key.scope,
                      key.expires_at.isoformat(timespec="minutes") if key.expires_at else "",
                      "yes" if key.revoked_at else "",
                      key.last_used_at.isoformat(timespec="minutes") if key.last_used_at else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key (by its id or prefix)."""
    from mutuelle.access import audit, keys
    from mutuelle.access.policy import OPERATOR

    _settings, session = _session()
    try:
        key = keys.get_key(session, key_id)
        keys.revoke_key(session, key)
        audit.record(session, OPERATOR, "key.revoke", kind="api_key", object_id=key.id)
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"key {key.prefix} revoked")


@groups_app.command("add")
def groups_add(slug: str, name: str) -> None:
    """Create a partner group."""
    from mutuelle.access import accounts

    _settings, session = _session()
    try:
        accounts.create_group(session, name=name, slug=slug)
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"group {slug} created")


@groups_app.command("member")
def groups_member(slug: str, email: str, remove: bool = typer.Option(False, "--remove")) -> None:
    """Put a member in a partner group (or take them out)."""
    from mutuelle.access import accounts

    _settings, session = _session()
    try:
        group, user = accounts.get_group(session, slug), accounts.get_user(session, email)
        (accounts.remove_from_group if remove else accounts.add_to_group)(session, group, user)
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"{email} {'removed from' if remove else 'added to'} {slug}")


@groups_app.command("grant")
def groups_grant(kind: str, object_id: str, group: str | None = typer.Option(None, "--group"),
                 user: str | None = typer.Option(None, "--user")) -> None:
    """Open a restricted dataset, indicator or scenario to a group or a member."""
    from mutuelle.access import accounts, audit
    from mutuelle.access.policy import OPERATOR

    _settings, session = _session()
    try:
        target = _grantable_id(session, kind, object_id)
        accounts.grant(session, kind, target,
                       group=accounts.get_group(session, group) if group else None,
                       user=accounts.get_user(session, user) if user else None)
        audit.record(session, OPERATOR, "access.grant", kind=kind, object_id=target,
                     detail={"group": group, "user": user})
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"{kind} {object_id} granted to {group or user}")


def _grantable_id(session, kind: str, key: str) -> str:  # type: ignore[no-untyped-def]
    """Datasets may be named by slug; grants hold their stable id."""
    if kind == "dataset":
        from mutuelle.catalog import repository as repo

        return repo.get_dataset(session, key).id
    return key


@audit_app.command("list")
def audit_list(limit: int = 50, action: str | None = None) -> None:
    """The newest events of the audit log."""
    from mutuelle.access import audit

    _settings, session = _session()
    table = Table("at", "who", "action", "object", "address")
    for event in audit.events(session, action=action, limit=limit):
        table.add_row(event.at.isoformat(timespec="seconds"), event.actor_label, event.action,
                      f"{event.object_kind} {event.object_id}".strip(), event.address)
    console.print(table)


@audit_app.command("export")
def audit_export() -> None:
    """The whole audit log as CSV on standard output."""
    import sys

    from mutuelle.access import audit

    _settings, session = _session()
    for chunk in audit.export_csv(session):
        sys.stdout.write(chunk)


dashboards_app = typer.Typer(help="Dashboards: pages of KPIs, charts, maps, tables and texts.")
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("list")
def dashboards_list(limit: int = 100) -> None:
    """Dashboards, newest first: id, title, organisation, access, blocks."""
    from mutuelle.access.policy import OPERATOR
    from mutuelle.dashboards import boards

    _settings, session = _session()
    total, rows = boards.list_dashboards(session, OPERATOR, limit=limit)
    table = Table("id", "title", "organisation", "access", "blocks", "updated",
                  title=f"{total} dashboard(s)")
    for d in rows:
        table.add_row(d.id, escape(d.title), d.organisation.slug, d.access,
                      str(len(d.blocks or [])), d.updated_at.isoformat(timespec="minutes"))
    console.print(table)


@dashboards_app.command("show")
def dashboards_show(dashboard_id: str,
                    as_json: Annotated[bool, typer.Option("--json", help="the API's JSON")] = False
                    ) -> None:
    """A dashboard's blocks, each KPI computed now with its status against its target."""
    import json

    from mutuelle.access.policy import OPERATOR
    from mutuelle.dashboards import boards
    from mutuelle.dashboards.kpi import compute_kpi

    settings, session = _session()
    try:
        dashboard = boards.get_dashboard(session, OPERATOR, dashboard_id)
    except MutuelleError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(boards.dashboard_json(dashboard, base_url=settings.base_url or ""),
                              ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]{escape(dashboard.title)}[/] ({dashboard.access}, "
                  f"{dashboard.organisation.slug})")
    table = Table("block", "kind", "place", "what", "value")
    for block in boards.blocks_of(dashboard):
        what, value = block.title, ""
        if block.kpi is not None:
            result = compute_kpi(session, settings, OPERATOR, block.kpi)
            what = what or block.kpi.label
            value = (f"problem: {result.problem.message}" if result.problem else
                     f"{result.value:,.{block.kpi.decimals}f} {block.kpi.unit} "
                     f"({result.period or 'all'})"
                     if result.value is not None else "no value")
            if result.standing is not None:
                value += f", {result.standing.status.replace('_', ' ')}"
        table.add_row(block.id or "", block.kind, f"x{block.x} y{block.y} {block.w}×{block.h}",
                      escape(what or str(getattr(block, block.kind) or "")[:60]), escape(value))
    console.print(table)


@dashboards_app.command("delete")
def dashboards_delete(dashboard_id: str) -> None:
    """Delete a dashboard: its page and embeds then answer 404."""
    from mutuelle.access.policy import OPERATOR
    from mutuelle.dashboards import boards

    _settings, session = _session()
    try:
        boards.delete_dashboard(session, OPERATOR, dashboard_id)
        session.commit()
    except MutuelleError as exc:
        _fail(exc)
    console.print(f"dashboard {dashboard_id} deleted")
