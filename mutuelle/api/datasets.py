"""Native catalogue API: organisations, datasets, versions, uploads and downloads.

Every body is a typed model: an unknown field, a wrong type, a value out of its list or too
long is refused with a 422 naming the field, before anything is written."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    Viewer,
    allowed,
    dataset_for,
    publicly_readable,
    readable_dataset,
    readable_version,
    visible_datasets,
)
from mutuelle.api.downloads import version_download
from mutuelle.api.openapi import file_answers
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Version
from mutuelle.catalog.serialize import dataset_json, organisation_json, version_json
from mutuelle.core.text import check_text
from mutuelle.ingest.service import import_file, publish_version
from mutuelle.ingest.uploads import discard, import_options, save_upload
from mutuelle.members import admin, workflow
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, client_address

router = APIRouter(prefix="/api", tags=["catalogue (native)"])


def _text(field: str, max_length: int, *, multiline: bool = False) -> Any:
    return AfterValidator(lambda v: check_text(v, field, max_length=max_length, multiline=multiline))


Title = Annotated[str, Field(min_length=1, max_length=500), _text("title", 500)]
Word = Annotated[str, Field(min_length=1, max_length=100), _text("word", 100)]
Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z]+$")]
Frequency = Literal["continuous", "daily", "weekly", "monthly", "quarterly", "annual", "irregular", "unknown"]
Access = Literal["public", "internal", "restricted"]
#: Who produced the data, when it is not the publishing organisation ("" clears it).
Producer = Annotated[str, Field(max_length=300), _text("producer", 300)]


class Body(BaseModel):
    """A request body: unknown fields are refused, so that a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class NewOrganisation(Body):
    name: Annotated[str, Field(min_length=1, max_length=300), _text("name", 300)]
    slug: Annotated[str | None, Field(max_length=100, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")] = None
    kind: Literal["city", "territory", "partner"] = "city"
    siren: Annotated[str | None, Field(pattern=r"^[0-9]{9}$")] = None
    parent: Annotated[str | None, Field(max_length=100)] = None
    description: Annotated[str, Field(max_length=10_000), _text("description", 10_000, multiline=True)] = ""
    logo_url: Annotated[str, Field(max_length=500)] = ""
    primary_colour: Annotated[str, Field(max_length=7)] = ""
    accent_colour: Annotated[str, Field(max_length=7)] = ""


class OrganisationChange(Body):
    name: Annotated[str | None, Field(min_length=1, max_length=300), _text("name", 300)] = None
    description: Annotated[str | None, Field(max_length=10_000)] = None
    logo_url: Annotated[str | None, Field(max_length=500)] = None
    primary_colour: Annotated[str | None, Field(max_length=7)] = None
    accent_colour: Annotated[str | None, Field(max_length=7)] = None


class DatasetMetadata(Body):
    description: Annotated[str, Field(max_length=100_000),
                           _text("description", 100_000, multiline=True)] = ""
    licence: Annotated[str, Field(min_length=1, max_length=200), _text("licence", 200)] = "Licence Ouverte 2.0"
    themes: Annotated[list[Word], Field(max_length=50)] = []
    keywords: Annotated[list[Word], Field(max_length=100)] = []
    spatial_coverage: Annotated[list[Code], Field(max_length=50_000)] = []
    frequency: Frequency = "unknown"
    producer: Producer = ""
    access: Access = "public"


class NewDataset(DatasetMetadata):
    organisation: Annotated[str, Field(min_length=1, max_length=100)]
    title: Title
    slug: Annotated[str | None, Field(max_length=100)] = None


class DatasetChange(Body):
    title: Title | None = None
    description: Annotated[str | None, Field(max_length=100_000),
                           _text("description", 100_000, multiline=True)] = None
    licence: Annotated[str | None, Field(min_length=1, max_length=200), _text("licence", 200)] = None
    themes: Annotated[list[Word] | None, Field(max_length=50)] = None
    keywords: Annotated[list[Word] | None, Field(max_length=100)] = None
    spatial_coverage: Annotated[list[Code] | None, Field(max_length=50_000)] = None
    frequency: Frequency | None = None
    producer: Producer | None = None


class FieldChange(Body):
    label: Annotated[str | None, Field(max_length=500), _text("label", 500)] = None
    description: Annotated[str | None, Field(max_length=10_000),
                           _text("description", 10_000, multiline=True)] = None
    unit: Annotated[str | None, Field(max_length=50), _text("unit", 50)] = None


def _set(body: BaseModel) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}


# --- organisations ----------------------------------------------------------------------------

@router.get("/organisations", summary="List organisations")
def list_organisations(session: SessionDep) -> dict[str, Any]:
    orgs = repo.list_organisations(session)
    return {"total_count": len(orgs), "results": [organisation_json(o) for o in orgs]}


@router.post("/organisations", status_code=201,
             summary="Create an organisation (site administrators; an organisation's admins below it)")
def create_organisation(request: Request, session: SessionDep, viewer: ViewerDep,
                        body: NewOrganisation) -> dict[str, Any]:
    parent = repo.get_organisation(session, body.parent) if body.parent else None
    look = {k: v for k, v in _set(body).items() if k in ("logo_url", "primary_colour", "accent_colour")}
    org = admin.create_organisation(session, viewer, name=body.name, slug=body.slug, kind=body.kind,
                                    siren=body.siren, parent=parent, address=client_address(request),
                                    **look)
    if body.description:
        org.description = body.description
    session.commit()
    return organisation_json(org)


@router.patch("/organisations/{org}", summary="Change an organisation's name, description, logo or colours")
def change_organisation(org: str, request: Request, session: SessionDep, viewer: ViewerDep,
                        body: OrganisationChange) -> dict[str, Any]:
    organisation = repo.get_organisation(session, org)
    admin.change_organisation(session, viewer, organisation, _set(body), address=client_address(request))
    session.commit()
    return organisation_json(organisation)


# --- datasets ---------------------------------------------------------------------------------

@router.get("/datasets", summary="Search the catalogue")
def list_datasets(session: SessionDep, viewer: ViewerDep,
                  q: Annotated[str | None, Query(max_length=500)] = None,
                  organisation: Annotated[str | None, Query(max_length=100)] = None,
                  theme: Annotated[str | None, Query(max_length=100)] = None,
                  limit: Annotated[int, Query(ge=1, le=100)] = 20,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
    total, rows = repo.list_datasets(session, visible=visible_datasets(viewer), q=q,
                                     organisation=organisation, theme=theme, limit=limit, offset=offset)
    return {"total_count": total, "results": [dataset_json(d) for d in rows]}


@router.post("/datasets", status_code=201, summary="Create a dataset (draft; editors of its organisation)")
def create_dataset(request: Request, session: SessionDep, viewer: ViewerDep,
                   body: NewDataset) -> dict[str, Any]:
    org = repo.get_organisation(session, body.organisation)
    metadata = body.model_dump(exclude={"organisation", "title", "slug"})
    dataset = workflow.create_dataset(session, viewer, org, title=body.title, slug=body.slug,
                                      address=client_address(request), **metadata)
    session.commit()
    return dataset_json(dataset, full=True)


@router.get("/datasets/{key}", summary="A dataset's metadata, fields and versions")
def get_dataset(key: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    return dataset_json(readable_dataset(session, viewer, key), full=True)


@router.patch("/datasets/{key}", summary="Change a dataset's metadata (editors; access: see PUT .../access)")
def update_dataset(key: str, request: Request, session: SessionDep, viewer: ViewerDep,
                   body: DatasetChange) -> dict[str, Any]:
    dataset = dataset_for(session, viewer, "edit", key)
    repo.update_dataset(session, dataset, **_set(body))
    session.commit()
    return dataset_json(dataset, full=True)


@router.post("/datasets/{key}/publish", summary="Publish a dataset (organisation admins)")
def publish_dataset(key: str, request: Request, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    dataset = dataset_for(session, viewer, "read", key)
    workflow.publish(session, viewer, dataset, address=client_address(request))
    session.commit()
    return dataset_json(dataset, full=True)


# --- versions ---------------------------------------------------------------------------------

@router.post("/datasets/{key}/versions", status_code=201,
             summary="Upload a file as a new version (CSV, Excel, ODS, GeoJSON, zipped Shapefile, "
                     "GeoPackage); an editor's new version of a published dataset waits as a draft "
                     "for an organisation admin")
def upload_version(
    key: str, request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    file: Annotated[UploadFile, File(description="the file to import")],
    encoding: Annotated[str | None, Form(max_length=40)] = None,
    delimiter: Annotated[str | None, Form(max_length=5)] = None,
    sheet: Annotated[str | None, Form(max_length=200)] = None,
    header_row: Annotated[int | None, Form(ge=1, le=1_000_000)] = None,
    types: Annotated[str | None, Form(max_length=100_000,
                                      description="overrides: col=integer,other=text")] = None,
    allow_ragged: Annotated[bool, Form()] = False,
    source_crs: Annotated[str | None, Form(max_length=100)] = None,
    fix_text: Annotated[bool, Form(description="repair mojibake ('Ã©' for 'é') with ftfy")] = False,
    publish: Annotated[bool, Form()] = True,
) -> dict[str, Any]:
    dataset = dataset_for(session, viewer, "edit", key)
    options = import_options(encoding=encoding, delimiter=delimiter, sheet=sheet,
                             header_row=header_row, types=types, allow_ragged=allow_ragged,
                             source_crs=source_crs, fix_text=fix_text)
    # Only those who may publish change what readers of a published dataset see.
    publish = publish and (dataset.status != "published" or allowed(viewer, "publish", dataset))
    path = save_upload(file, settings)
    try:
        version = import_file(session, settings, dataset, path, source_name=file.filename,
                              options=options, publish=publish, author=viewer.email or viewer.name)
    finally:
        discard(path)
    workflow.version_published(session, viewer, dataset, version, address=client_address(request))
    session.commit()
    return version_json(version)


@router.get("/datasets/{key}/versions", summary="A dataset's versions")
def list_versions(key: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    dataset = readable_dataset(session, viewer, key)
    versions = [v for v in dataset.versions if allowed(viewer, "read", v)]
    return {"total_count": len(versions), "results": [version_json(v, with_fields=False) for v in versions]}


def _version(session: Session, viewer: Viewer, key: str, number: str) -> Version:
    dataset = readable_dataset(session, viewer, key)
    return readable_version(viewer, repo.get_version(dataset, number),
                            what=f"version {number} of dataset {key!r}")


@router.get("/datasets/{key}/versions/{number}", summary="One version (a number, or latest)")
def get_version(key: str, number: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    return version_json(_version(session, viewer, key, number))


@router.post("/datasets/{key}/versions/{number}/publish",
             summary="Publish a draft version (organisation admins)")
def publish(key: str, number: str, request: Request, session: SessionDep,
            viewer: ViewerDep) -> dict[str, Any]:
    dataset = dataset_for(session, viewer, "publish", key)
    version = publish_version(session, _version(session, viewer, key, number))
    workflow.version_published(session, viewer, dataset, version, action="version.publish",
                               address=client_address(request))
    session.commit()
    return version_json(version)


@router.patch("/datasets/{key}/versions/{number}/fields/{name}",
              summary="Describe a column (label, description, unit); kept by later versions")
def update_field(key: str, number: str, name: str, session: SessionDep, viewer: ViewerDep,
                 body: FieldChange) -> dict[str, Any]:
    dataset_for(session, viewer, "edit", key)
    version = _version(session, viewer, key, number)
    repo.update_field(session, version, name, **_set(body))
    session.commit()
    return version_json(version)


@router.get("/datasets/{key}/versions/{number}/download/{kind}",
            summary="Download a version: original file, csv or parquet",
            response_class=Response,
            responses=file_answers(["text/csv; charset=utf-8", "application/vnd.apache.parquet", "*/*"],
                                   "the version as CSV or Parquet, or its original file (in "
                                   "its own type)"))
def download(key: str, number: str, kind: str, session: SessionDep, settings: SettingsDep,
             viewer: ViewerDep) -> Response:
    version = _version(session, viewer, key, number)
    return version_download(settings, version, kind, public=publicly_readable(version),
                            immutable=number != "latest")
