"""The command line: the same service functions the API and the pages call."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from mutuelle.core.config import describe_settings, load_settings
from mutuelle.core.errors import MutuelleError

app = typer.Typer(help="mutuelle: a territorial data commons.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
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

    settings = load_settings()
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings)
    return settings, sessions(settings)()


def _fail(exc: MutuelleError) -> None:
    err.print(f"[bold red]error:[/] {exc.message}")
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the catalogue schema (SQLite or PostgreSQL)."""
    from mutuelle.catalog.db import upgrade

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings)
    console.print(f"catalogue up to date: {settings.catalog_url.split('@')[-1]}")


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
    console.print(f"mutuelle is serving on [bold]http://{host}:{port}/[/] (data in {settings.home})")
    uvicorn.run("mutuelle.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


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
    encoding: str | None = None, delimiter: str | None = None, sheet: str | None = None,
    header_row: int | None = None,
    type_: Annotated[list[str] | None, typer.Option("--type", help="override: column=type")] = None,
    allow_ragged: bool = False,
    crs: Annotated[str | None, typer.Option(help="source CRS when the file has none, e.g. EPSG:2154")] = None,
    draft: Annotated[bool, typer.Option(help="keep the version as a draft")] = False,
) -> None:
    """Import a file (CSV, Excel, ODS, GeoJSON, zipped Shapefile, GeoPackage) as a new version."""
    from mutuelle.api.uploads import import_options
    from mutuelle.catalog import repository as repo
    from mutuelle.core.ids import slugify
    from mutuelle.ingest.service import import_file

    settings, session = _session()
    with session:
        try:
            options = import_options(encoding=encoding, delimiter=delimiter, sheet=sheet,
                                     header_row=header_row, types=",".join(type_ or []),
                                     allow_ragged=allow_ragged, source_crs=crs)
            slug = dataset or slugify(file.stem)
            try:
                target = repo.get_dataset(session, slug)
            except MutuelleError:
                org_slug = organisation or "local"
                try:
                    org = repo.get_organisation(session, org_slug)
                except MutuelleError:
                    org = repo.create_organisation(session, name=org_slug.capitalize(), slug=org_slug)
                target = repo.create_dataset(session, organisation=org, title=title or file.stem, slug=slug)
                session.commit()
            with _progress_bar() as bar:
                task = bar.add_task(f"importing {file.name}", total=file.stat().st_size)
                version = import_file(
                    session, settings, target, file, options=options, publish=not draft,
                    author="cli", progress=lambda done, total: bar.update(task, completed=done, total=total))
            if not draft and target.status == "draft":
                repo.publish_dataset(session, target)
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
def datasets_list(q: str | None = None) -> None:
    """List the datasets of the catalogue."""
    from mutuelle.access.policy import OPERATOR, visible_datasets
    from mutuelle.api.serialize import dataset_json
    from mutuelle.catalog import repository as repo

    _, session = _session()
    with session:
        total, rows = repo.list_datasets(session, visible=visible_datasets(OPERATOR), q=q, limit=1000)
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
    from mutuelle.catalog import repository as repo

    _, session = _session()
    with session:
        try:
            repo.publish_dataset(session, repo.get_dataset(session, slug))
            session.commit()
        except MutuelleError as exc:
            _fail(exc)
        console.print(f"{slug} published")


@orgs_app.command("add")
def orgs_add(slug: str, name: str, kind: str = "city", siren: str | None = None,
             parent: str | None = None) -> None:
    """Add an organisation."""
    from mutuelle.catalog import repository as repo

    _, session = _session()
    with session:
        try:
            parent_org = repo.get_organisation(session, parent) if parent else None
            repo.create_organisation(session, name=name, slug=slug, kind=kind, siren=siren, parent=parent_org)
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
    from mutuelle.geo.referential import geo_import_command

    settings, session = _session()
    with session:
        try:
            mapping = dict(m.split("=", 1) for m in map_ or []) or None
            with console.status(f"importing {file.name} as {level}..."):
                report = geo_import_command(session, settings, file, level=level, vintage=vintage,
                                            crs=crs, mapping=mapping)
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
    from mutuelle.geo.cog import cog_command

    settings, session = _session()
    with session:
        try:
            with console.status("loading the Code officiel géographique..."):
                report = cog_command(session, settings, vintage, departement)
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


@indicators_app.command("values")
def indicators_values(indicator: str, level: str = "commune", vintage: int | None = None) -> None:
    """An indicator's values at one level (secret cells shown as such)."""
    from mutuelle.observatory.compute import indicator_values
    from mutuelle.observatory.indicators import get_indicator

    settings, session = _session()
    with session:
        try:
            values = indicator_values(session, settings, get_indicator(session, indicator), level,
                                      vintage=vintage)
        except MutuelleError as exc:
            _fail(exc)
        table = Table(title=f"{indicator} by {level}")
        for col in ("code", "name", "value", "status"):
            table.add_column(col)
        for v in values:
            table.add_row(v.code, v.name, "" if v.value is None else f"{v.value:.4g}", v.status)
        console.print(table)


@app.command("settings")
def settings_command() -> None:
    """Show every setting, its default and what it is for."""
    table = Table(title="MUTUELLE_* settings")
    for col in ("variable", "default", "description"):
        table.add_column(col)
    for row in describe_settings():
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    app()
