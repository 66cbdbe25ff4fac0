"""Native catalogue API: organisations, datasets, versions, uploads and downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    Viewer,
    editable_dataset,
    readable_dataset,
    visible_datasets,
)
from mutuelle.api.deps import get_session, get_settings, get_viewer
from mutuelle.api.downloads import version_download
from mutuelle.api.serialize import dataset_json, organisation_json, version_json
from mutuelle.api.uploads import discard, import_options, save_upload
from mutuelle.catalog import repository as repo
from mutuelle.core.config import Settings
from mutuelle.core.errors import Forbidden, InvalidInput, NotFound
from mutuelle.ingest.service import import_file, publish_version

router = APIRouter(prefix="/api", tags=["catalogue (native)"])

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]


@router.get("/organisations", summary="List organisations")
def list_organisations(session: SessionDep) -> dict[str, Any]:
    orgs = repo.list_organisations(session)
    return {"total_count": len(orgs), "results": [organisation_json(o) for o in orgs]}


@router.post("/organisations", status_code=201, summary="Create an organisation")
def create_organisation(session: SessionDep, viewer: ViewerDep,
                        body: Annotated[dict[str, Any], Body(examples=[{
                            "name": "Ville de Lyon", "slug": "lyon", "kind": "city",
                            "siren": "216901231"}])]) -> dict[str, Any]:
    if not viewer.operator:
        raise Forbidden("you may not create organisations")
    parent = repo.get_organisation(session, body["parent"]) if body.get("parent") else None
    org = repo.create_organisation(
        session, name=str(body.get("name") or ""), slug=body.get("slug"),
        kind=body.get("kind", "city"), siren=body.get("siren"), parent=parent,
        has_portal=bool(body.get("has_portal", True)))
    session.commit()
    return organisation_json(org)


@router.get("/datasets", summary="Search the catalogue")
def list_datasets(session: SessionDep, viewer: ViewerDep,
                  q: str | None = None, organisation: str | None = None, theme: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=100)] = 20,
                  offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    total, rows = repo.list_datasets(session, visible=visible_datasets(viewer), q=q,
                                     organisation=organisation, theme=theme, limit=limit, offset=offset)
    return {"total_count": total, "results": [dataset_json(d) for d in rows]}


@router.post("/datasets", status_code=201, summary="Create a dataset (draft)")
def create_dataset(session: SessionDep, viewer: ViewerDep,
                   body: Annotated[dict[str, Any], Body(examples=[{
                       "organisation": "lyon", "title": "Écoles", "themes": ["éducation"],
                       "licence": "Licence Ouverte 2.0", "frequency": "annual"}])]) -> dict[str, Any]:
    if not viewer.operator:
        raise Forbidden("you may not create datasets")
    if not body.get("organisation"):
        raise InvalidInput("a dataset needs an organisation (its slug)")
    org = repo.get_organisation(session, str(body.pop("organisation")))
    title = str(body.pop("title", "") or "")
    slug = body.pop("slug", None)
    dataset = repo.create_dataset(session, organisation=org, title=title, slug=slug, **body)
    session.commit()
    return dataset_json(dataset, full=True)


@router.get("/datasets/{key}", summary="A dataset's metadata, fields and versions")
def get_dataset(key: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    return dataset_json(readable_dataset(session, viewer, key), full=True)


@router.patch("/datasets/{key}", summary="Change a dataset's metadata")
def update_dataset(key: str, session: SessionDep, viewer: ViewerDep,
                   body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    dataset = editable_dataset(session, viewer, key)
    repo.update_dataset(session, dataset, **body)
    session.commit()
    return dataset_json(dataset, full=True)


@router.post("/datasets/{key}/publish", summary="Publish a draft dataset")
def publish_dataset(key: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    dataset = editable_dataset(session, viewer, key)
    repo.publish_dataset(session, dataset)
    session.commit()
    return dataset_json(dataset, full=True)


@router.post("/datasets/{key}/versions", status_code=201,
             summary="Upload a file as a new version (CSV, Excel, ODS, GeoJSON, zipped Shapefile, GeoPackage)")
def upload_version(
    key: str, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    file: Annotated[UploadFile, File(description="the file to import")],
    encoding: Annotated[str | None, Form()] = None, delimiter: Annotated[str | None, Form()] = None,
    sheet: Annotated[str | None, Form()] = None, header_row: Annotated[int | None, Form()] = None,
    types: Annotated[str | None, Form(description="overrides: col=integer,other=text")] = None,
    allow_ragged: Annotated[bool, Form()] = False, source_crs: Annotated[str | None, Form()] = None,
    publish: Annotated[bool, Form()] = True,
) -> dict[str, Any]:
    dataset = editable_dataset(session, viewer, key)
    options = import_options(encoding=encoding, delimiter=delimiter, sheet=sheet,
                             header_row=header_row, types=types, allow_ragged=allow_ragged,
                             source_crs=source_crs)
    path = save_upload(file, settings)
    try:
        version = import_file(session, settings, dataset, path, source_name=file.filename,
                              options=options, publish=publish, author=viewer.name)
    finally:
        discard(path)
    return version_json(version)


@router.get("/datasets/{key}/versions", summary="A dataset's versions")
def list_versions(key: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    dataset = readable_dataset(session, viewer, key)
    versions = [v for v in dataset.versions if v.status == "published" or viewer.operator]
    return {"total_count": len(versions), "results": [version_json(v, with_fields=False) for v in versions]}


def _version(session: Session, viewer: Viewer, key: str, number: str) -> Any:
    dataset = readable_dataset(session, viewer, key)
    version = repo.get_version(dataset, number)
    if version.status != "published" and not viewer.operator:
        raise NotFound(f"no version {number} of dataset {key!r}")
    return version


@router.get("/datasets/{key}/versions/{number}", summary="One version (a number, or latest)")
def get_version(key: str, number: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    return version_json(_version(session, viewer, key, number))


@router.post("/datasets/{key}/versions/{number}/publish", summary="Publish a draft version")
def publish(key: str, number: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    editable_dataset(session, viewer, key)
    version = _version(session, viewer, key, number)
    return version_json(publish_version(session, version))


@router.patch("/datasets/{key}/versions/{number}/fields/{name}",
              summary="Describe a column (label, description, unit); kept by later versions")
def update_field(key: str, number: str, name: str, session: SessionDep, viewer: ViewerDep,
                 body: Annotated[dict[str, str], Body(examples=[{"label": "Code INSEE", "unit": ""}])]
                 ) -> dict[str, Any]:
    editable_dataset(session, viewer, key)
    version = _version(session, viewer, key, number)
    repo.update_field(session, version, name, **body)
    session.commit()
    return version_json(version)


@router.get("/datasets/{key}/versions/{number}/download/{kind}",
            summary="Download a version: original file, csv or parquet",
            response_class=Response)
def download(key: str, number: str, kind: str, session: SessionDep, settings: SettingsDep,
             viewer: ViewerDep) -> Response:
    version = _version(session, viewer, key, number)
    return version_download(settings, version, kind)
