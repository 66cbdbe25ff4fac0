"""Settings are declared once and read from MUTUELLE_* variables."""

from pathlib import Path

import pytest

from mutuelle.core.config import describe_settings, load_settings
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


@pytest.mark.parametrize("text, slug", [("Écoles maternelles", "ecoles-maternelles"),
                                        ("  ../../etc/passwd ", "etc-passwd"), ("", "jeu-de-donnees")])
def test_slugs_are_safe(text: str, slug: str) -> None:
    assert slugify(text) == slug and is_slug(slug)


def test_traversal_is_not_a_slug() -> None:
    assert not is_slug("../x") and not is_slug("a/b") and not is_slug("")
