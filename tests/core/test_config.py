"""Settings are declared once and read from MUTUELLE_* variables."""

from dataclasses import fields
from pathlib import Path

import pytest

from mutuelle.core.config import (
    PACKAGE_DIR,
    Settings,
    describe_settings,
    load_settings,
    settings_markdown,
)
from mutuelle.core.errors import InvalidInput
from mutuelle.core.ids import is_slug, slugify


def test_settings_are_read_from_the_environment() -> None:
    s = load_settings({"MUTUELLE_HOME": "/tmp/x", "MUTUELLE_MAX_COLUMNS": "12",
                       "MUTUELLE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/db"})
    assert s.home == Path("/tmp/x") and s.max_columns == 12
    assert s.catalog_url.startswith("postgresql+psycopg://")


def test_the_embedded_default_is_sqlite_under_home() -> None:
    s = load_settings({"MUTUELLE_HOME": "/tmp/y"})
    assert s.catalog_url == "sqlite:////tmp/y/catalog.sqlite"
    assert s.store_dir == Path("/tmp/y/store")


def test_a_non_integer_limit_is_refused_with_its_variable_name() -> None:
    with pytest.raises(InvalidInput, match="MUTUELLE_MAX_COLUMNS"):
        load_settings({"MUTUELLE_MAX_COLUMNS": "many"})


def test_every_setting_is_documented() -> None:
    for variable, _default, description in describe_settings():
        assert variable.startswith("MUTUELLE_") and len(description) > 10


CONFIGURATION_DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_configuration_doc_is_the_one_generated_from_the_settings() -> None:
    assert CONFIGURATION_DOC.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/configuration.md is out of date: "
        "uv run mutuelle settings --markdown > docs/configuration.md")


def test_no_default_path_points_into_the_checkout_outside_the_package() -> None:
    checkout = PACKAGE_DIR.parent
    for f in fields(Settings):
        if isinstance(f.default, Path) and f.default.is_absolute():
            assert f.default.is_relative_to(PACKAGE_DIR), f"MUTUELLE_{f.name.upper()}"
    assert str(checkout) not in settings_markdown()


def test_home_defaults_to_var_in_the_working_directory() -> None:
    assert load_settings({}).home == Path("var")
    assert ("MUTUELLE_HOME", "./var") in [row[:2] for row in describe_settings()]


def test_the_default_cog_folder_is_inside_the_package_and_built() -> None:
    cog_dir = Settings().cog_dir
    assert cog_dir.is_relative_to(PACKAGE_DIR)
    assert (cog_dir / "communes.json").is_file(), "run scripts/build-assets.sh"


@pytest.mark.parametrize("text, slug", [("Écoles maternelles", "ecoles-maternelles"),
                                        ("  ../../etc/passwd ", "etc-passwd"), ("", "jeu-de-donnees")])
def test_slugs_are_safe(text: str, slug: str) -> None:
    assert slugify(text) == slug and is_slug(slug)


def test_traversal_is_not_a_slug() -> None:
    assert not is_slug("../x") and not is_slug("a/b") and not is_slug("")
