"""The catalogue searched, faceted and sorted over its entries (SQLite and PostgreSQL): the
same matches as ODSQL's search() plus French stems, ranked; changes seen at the next call."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from mutuelle.access.policy import ANONYMOUS, OPERATOR, Viewer, visible_datasets
from mutuelle.catalog import repository as repo
from mutuelle.catalog.entries import CatalogEntry
from mutuelle.catalog.models import Dataset, Field, Version
from mutuelle.catalog.search import (
    WEIGHTS,
    CatalogueIndex,
    CatalogueQuery,
    catalogue_index,
    search_catalogue,
    selection,
)
from mutuelle.catalog.terms import WORD_SEPARATORS, french_stem, search_terms
from mutuelle.core.errors import InvalidInput
from mutuelle.query.odsql import fulltext

TITLES = {
    "ecoles-maternelles": ("Écoles maternelles", ["enseignement"], "Effectifs par classe."),
    "liste-des-ecoles": ("Liste des écoles", [], "Adresses des établissements scolaires."),
    "effectifs-scolaires": ("Effectifs scolaires", ["élèves"], "Élèves inscrits dans chaque école."),
    "ecologie-urbaine": ("Écologie urbaine", ["nature"], "Arbres et parcs."),
    "budget-2024": ("Budget primitif 2024", ["finances"], "Le budget voté."),
    "hopitaux": ("Hôpitaux et cliniques", ["santé"], "Lits par hôpital."),
    "velos": ("Stations de vélos", ["mobilité"], "Vélos en libre-service."),
}


def published(session, slug: str, title: str, keywords: list[str], description: str, *,  # type: ignore[no-untyped-def]
              org, access: str = "public", themes: list[str] | None = None) -> Dataset:
    dataset = repo.create_dataset(session, organisation=org, title=title, slug=slug,
                                  keywords=keywords, description=description, access=access,
                                  themes=themes or [])
    dataset.status = "published"
    return dataset


@pytest.fixture
def catalogue(session):  # type: ignore[no-untyped-def]
    lyon = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
    for slug, (title, keywords, description) in TITLES.items():
        published(session, slug, title, keywords, description, org=lyon,
                  themes=["Éducation"] if "ecol" in slug or "scol" in slug else ["Ville"])
    session.commit()
    return session


def slugs(session, text: str = "", viewer: Viewer = OPERATOR, **query) -> list[str]:  # type: ignore[no-untyped-def]
    result = search_catalogue(session, CatalogueQuery(text=text, limit=100, **query),
                              visible=visible_datasets(viewer))
    return [item.slug for item in result.items]


def test_every_spelling_of_ecoles_finds_the_same_datasets_first(catalogue) -> None:  # type: ignore[no-untyped-def]
    found = {text: slugs(catalogue, text) for text in ("ecoles", "École", "ecole", "écoles")}
    assert len(set(map(tuple, found.values()))) == 1, found
    assert found["ecoles"][:3] == ["ecoles-maternelles", "liste-des-ecoles", "effectifs-scolaires"]
    assert "ecologie-urbaine" not in found["ecoles"]  # another stem


def test_title_words_rank_above_description_words(catalogue) -> None:  # type: ignore[no-untyped-def]
    assert slugs(catalogue, "élèves") == ["effectifs-scolaires"]
    assert slugs(catalogue, "hôpital") == ["hopitaux"]          # hôpitaux → hôpital
    assert slugs(catalogue, "velo") == ["velos"]
    assert slugs(catalogue, "budjet 2024") == ["budget-2024"]   # one typo, not in the last word


def _ods_matches(session, text: str) -> set[str]:  # type: ignore[no-untyped-def]
    """What ODSQL's search() finds over the same texts the catalogue indexes."""
    con = duckdb.connect()
    rows = [(e.slug, " ".join([e.title, e.description, " ".join(e.keywords), " ".join(e.themes),
                               e.organisation_name, e.field_text, " ".join(e.territory_names),
                               " ".join(e.territories)]))
            for e in session.query(CatalogEntry).filter(CatalogEntry.present)]
    con.execute("CREATE TABLE t (slug VARCHAR, txt VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    condition = fulltext.text_search(text, [duckdb_column("txt")])
    return {r[0] for r in con.execute(f"SELECT slug FROM t WHERE {condition.sql(dialect='duckdb')}").fetchall()}


def duckdb_column(name: str):  # type: ignore[no-untyped-def]
    from sqlglot import exp

    return exp.column(name)


@pytest.mark.parametrize("text", ["budget", "budjet 2024", "ecole", "effectifs ecole", "lits hopital",
                                  "stations velo", "parc", "arbre", "ville lyon", "classe", "x"])
def test_search_finds_what_odsql_search_finds_and_words_of_the_same_stem(catalogue, text: str) -> None:  # type: ignore[no-untyped-def]
    ours = set(slugs(catalogue, text))
    ods = _ods_matches(catalogue, text)
    assert ods <= ours
    for slug in ours - ods:   # found only through a stem: every term has a word of its stem
        entry = catalogue.get(CatalogEntry, repo.get_dataset(catalogue, slug).id)
        stems = {french_stem(w) for w in fulltext.words(" ".join([
            entry.title, entry.description, *entry.keywords, *entry.themes, entry.organisation_name]))}
        assert any(term.stem in stems for term in search_terms(text)), (text, slug)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="aàbcdeéèfgilmnoprstuxyzÉ ,.'-2", min_size=1, max_size=40))
def test_terms_are_read_as_fulltext_reads_them(text: str) -> None:
    theirs = fulltext.search_terms(text)
    if not theirs:
        with pytest.raises(InvalidInput):
            search_terms(text)
        return
    ours = search_terms(text)
    assert [(t.word, t.kind, t.edits) for t in ours] == [(t.word, t.kind, t.edits) for t in theirs]


@pytest.mark.parametrize("word, stem", [
    ("ecoles", "ecol"), ("ecole", "ecol"), ("hopitaux", "hopital"), ("hopital", "hopital"),
    ("sportives", "sportif"), ("sportifs", "sportif"), ("donnees", "donn"), ("donnee", "donn"),
    ("jeux", "jeu"), ("paris", "paris"), ("bus", "bus"), ("2024", "2024"), ("rues", "rue"),
])
def test_french_stems_fold_plural_and_feminine_endings(word: str, stem: str) -> None:
    assert french_stem(word) == stem


def test_visibility_is_the_policy_s_and_facets_count_what_one_may_see(catalogue) -> None:  # type: ignore[no-untyped-def]
    lyon = repo.get_organisation(catalogue, "lyon")
    published(catalogue, "notes-internes", "Notes internes sur les écoles", [], "", org=lyon,
              access="internal", themes=["Éducation"])
    repo.create_dataset(catalogue, organisation=lyon, title="Brouillon des écoles", slug="brouillon")
    catalogue.commit()
    member = Viewer(name="m", user_id="u", member_of=frozenset({lyon.id}))
    editor = Viewer(name="e", user_id="e", member_of=frozenset({lyon.id}), roles={lyon.id: "editor"})
    assert "notes-internes" not in slugs(catalogue, "ecoles", ANONYMOUS)
    assert "notes-internes" in slugs(catalogue, "ecoles", member)
    assert "brouillon" not in slugs(catalogue, "ecoles", member)
    assert "brouillon" in slugs(catalogue, "ecoles", editor)
    facets = {viewer.name: search_catalogue(catalogue, CatalogueQuery(
        facets=["theme", "access", "organisation"]), visible=visible_datasets(viewer)).facets
        for viewer in (ANONYMOUS, member)}
    assert [(v.value, v.count) for v in facets["anonymous"]["access"]] == [("public", 7)]
    assert [(v.value, v.count) for v in facets["m"]["access"]] == [("public", 7), ("internal", 1)]
    assert [(v.value, v.count) for v in facets["m"]["theme"]] == [("Éducation", 5), ("Ville", 3)]
    assert [(v.value, v.label) for v in facets["m"]["organisation"]] == [("lyon", "Ville de Lyon")]


def test_filters_and_sorts(catalogue) -> None:  # type: ignore[no-untyped-def]
    assert slugs(catalogue, filters={"theme": ["Éducation"]}) == [   # by title, É as E
        "ecoles-maternelles", "ecologie-urbaine", "effectifs-scolaires", "liste-des-ecoles"]
    assert slugs(catalogue, "ecole", filters={"keyword": ["élèves"]}) == ["effectifs-scolaires"]
    assert slugs(catalogue, sort="-title")[0] == "velos"
    assert slugs(catalogue, filters={"organisation": ["nowhere"]}) == []


@pytest.mark.parametrize("query, message", [
    ({"text": "?!… --"}, "no letter nor digit"),
    ({"text": "mot " * 40}, "at most 32 words"),
    ({"text": "x" * 501}, "at most 500"),
    ({"facets": ["colour"]}, "unknown facet 'colour'"),
    ({"filters": {"colour": ["red"]}}, "unknown facet 'colour'"),
    ({"sort": "-size"}, "unknown sort '-size'"),
])
def test_bad_queries_are_refused_with_what_is_wrong(catalogue, query, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message):
        search_catalogue(catalogue, CatalogueQuery(**query), visible=visible_datasets(OPERATOR))


def test_access_changes_new_versions_and_edits_show_at_the_next_call(catalogue) -> None:  # type: ignore[no-untyped-def]
    budget = repo.get_dataset(catalogue, "budget-2024")
    assert "budget-2024" in slugs(catalogue, "budget", ANONYMOUS)
    budget.access = "internal"
    catalogue.commit()
    assert "budget-2024" not in slugs(catalogue, "budget", ANONYMOUS)

    version = Version(dataset=budget, number=1, status="published", parquet_path="x.parquet",
                      source_name="budget.csv", format="csv", row_count=42, byte_size=1,
                      checksum="0" * 64, source_checksum="0" * 64)
    version.fields = [Field(position=0, name="montant_ttc", type="decimal", label="Montant voté")]
    catalogue.add(version)
    catalogue.commit()
    item = search_catalogue(catalogue, CatalogueQuery(text="montant"),
                            visible=visible_datasets(OPERATOR)).items
    assert [(i.slug, i.records_count, i.formats) for i in item] == [("budget-2024", 42, ["csv"])]

    repo.update_field(catalogue, version, "montant_ttc", label="Dépenses de fonctionnement")
    catalogue.commit()
    assert slugs(catalogue, "dépenses fonctionnement") == ["budget-2024"]

    lyon = repo.get_organisation(catalogue, "lyon")
    lyon.name = "Métropole de Lyon"
    catalogue.commit()
    assert "budget-2024" in slugs(catalogue, "métropole budget")

    catalogue.execute(delete(Field))
    catalogue.execute(delete(Version))
    catalogue.delete(budget)
    catalogue.commit()
    assert "budget-2024" not in slugs(catalogue)


def test_a_dataset_removed_with_others_changed_leaves_their_entries_whole(catalogue) -> None:  # type: ignore[no-untyped-def]
    slugs(catalogue)   # entries made
    repo.get_organisation(catalogue, "lyon").name = "Métropole de Lyon"
    catalogue.delete(repo.get_dataset(catalogue, "hopitaux"))
    catalogue.commit()
    entries = catalogue.query(CatalogEntry).filter(CatalogEntry.present).all()
    assert sorted(e.slug for e in entries) == sorted(set(TITLES) - {"hopitaux"})
    assert {e.organisation_name for e in entries} == {"Métropole de Lyon"}
    assert slugs(catalogue, "métropole velo") == ["velos"]


def test_a_selection_keeps_the_catalogue_as_it_was_when_made(catalogue) -> None:  # type: ignore[no-untyped-def]
    lyon = repo.get_organisation(catalogue, "lyon")
    slugs(catalogue)
    published(catalogue, "parcs", "Parcs", [], "", org=lyon, themes=["Ville"])
    catalogue.commit()
    slugs(catalogue)   # "parcs" has the newest entry of the copy
    with selection(catalogue, visible=visible_datasets(OPERATOR),
                   filters={"theme": ["Ville"]}) as chosen:
        catalogue.delete(repo.get_dataset(catalogue, "parcs"))
        published(catalogue, "notes", "Notes", [], "", org=lyon, themes=["Éducation"])
        catalogue.commit()
        catalogue_index(catalogue)   # refreshed while the selection is open
        found = [item.slug for item in chosen.page("title", 100, 0)]
        assert chosen.total() == 4
        assert [v.value for v in chosen.facets(["theme"], 10)["theme"]] == ["Ville"]
    assert found == ["budget-2024", "hopitaux", "parcs", "velos"]
    assert "notes" in slugs(catalogue) and "parcs" not in slugs(catalogue)


def test_another_worker_catches_up_from_the_catalogue(catalogue) -> None:  # type: ignore[no-untyped-def]
    other = CatalogueIndex()   # a worker that started before the change
    other.refresh(catalogue)
    repo.get_dataset(catalogue, "velos").title = "Stations de vélos en libre-service"
    catalogue.commit()
    other.refresh(catalogue)
    cursor = other.con.cursor()
    assert cursor.execute("SELECT title FROM entry WHERE slug = 'velos'").fetchall() == [
        ("Stations de vélos en libre-service",)]
    assert cursor.execute("SELECT count(*) FROM posting p JOIN entry e ON e.key = p.key "
                          "JOIN vocab v ON v.word_id = p.word_id "
                          "WHERE e.slug = 'velos' AND v.word = 'libre'").fetchone() == (1,)


def _weighted_words(cursor) -> set[tuple[str, str, float]]:  # type: ignore[no-untyped-def]
    """(slug, word, weight) as the index holds them."""
    return set(cursor.execute("SELECT e.slug, v.word, p.weight FROM posting p JOIN entry e "
                              "ON e.key = p.key JOIN vocab v ON v.word_id = p.word_id").fetchall())


def _folded_then_cut(cursor) -> set[tuple[str, str, float]]:  # type: ignore[no-untyped-def]
    """The same, each whole text folded then cut at anything but letters and digits."""
    texts = {"title": "title", "keywords": "array_to_string(keywords, ' ')",
             "themes": "array_to_string(themes, ' ')", "organisation_name": "organisation_name",
             "territories": "array_to_string(territory_names, ' ') || ' ' || "
                            "array_to_string(territories, ' ')",
             "field_text": "field_text", "description": "description"}
    parts = " UNION ALL ".join(
        f"SELECT slug, unnest(regexp_split_to_array(strip_accents(lower(coalesce({sql}, ''))), "
        f"$pattern)) AS word, {WEIGHTS[name]} AS weight FROM entry" for name, sql in texts.items())
    return set(cursor.execute(f"SELECT slug, word, sum(weight) FROM ({parts}) WHERE word <> '' "
                              "GROUP BY slug, word", {"pattern": WORD_SEPARATORS}).fetchall())


def test_words_are_those_of_each_text_folded_then_cut(catalogue) -> None:  # type: ignore[no-untyped-def]
    lyon = repo.get_organisation(catalogue, "lyon")
    published(catalogue, "bizarre", "L'ÉCOLE—publique\u00a0d’été", ["e\u0301cole", "a_b"],
              "Ligne 1\nligne 2\tCAFÉ, café ; « Œuvres » 2024-2025 \u0301 x\u0301y", org=lyon)
    catalogue.commit()
    index = CatalogueIndex()
    index.refresh(catalogue)
    cursor = index.con.cursor()
    assert _weighted_words(cursor) == _folded_then_cut(cursor)
    repo.get_dataset(catalogue, "bizarre").description = "Arbres d'alignement, école"
    catalogue.commit()
    index.refresh(catalogue)
    assert _weighted_words(cursor) == _folded_then_cut(cursor)
    assert cursor.execute("SELECT count(*), count(DISTINCT word) FROM vocab").fetchone()[0] == \
        cursor.execute("SELECT count(DISTINCT word) FROM vocab").fetchone()[0]


def _facets_of_entries(session, names: list[str], limit: int) -> dict[str, list[tuple[str, str, int]]]:  # type: ignore[no-untyped-def]
    """Each facet's values among the present entries, counted in Python."""
    counts: dict[str, dict[str, set[str]]] = {name: {} for name in names}
    labels: dict[tuple[str, str], str] = {}
    for e in session.query(CatalogEntry).filter(CatalogEntry.present):
        values = {"organisation": [(e.organisation_slug, e.organisation_name)],
                  "theme": [(v, v) for v in e.themes], "keyword": [(v, v) for v in e.keywords],
                  "licence": [(e.licence, e.licence)], "format": [(v, v) for v in e.formats],
                  "territory": list(zip(e.territories, e.territory_names, strict=True)),
                  "access": [(e.access, e.access)], "schema": [(e.schema_name, e.schema_name)],
                  "modified": [(str(e.modified.year), str(e.modified.year))] if e.modified else []}
        for name in names:
            for value, label in values[name]:
                if value:
                    counts[name].setdefault(value, set()).add(e.dataset_id)
                    labels[name, value] = label
    return {name: sorted(((v, labels[name, v], len(ids)) for v, ids in found.items()),
                         key=lambda t: (-t[2], t[0]))[:limit]
            for name, found in counts.items()}


def test_facets_count_the_datasets_holding_each_value_through_changes(catalogue) -> None:  # type: ignore[no-untyped-def]
    names = ["organisation", "theme", "keyword", "licence", "territory", "format", "access",
             "schema", "modified"]

    def facets(limit: int) -> dict[str, list[tuple[str, str, int]]]:
        found = search_catalogue(catalogue, CatalogueQuery(facets=names, facet_limit=limit),
                                 visible=visible_datasets(OPERATOR)).facets
        return {name: [(v.value, v.label, v.count) for v in values] for name, values in found.items()}

    lyon = repo.get_organisation(catalogue, "lyon")
    grand = repo.create_organisation(catalogue, name="Grand Lyon", slug="grand-lyon")
    published(catalogue, "mixte", "Équipements", ["santé", "santé", "nature"], "", org=grand,
              themes=["Ville", "Éducation"])
    catalogue.commit()
    for limit in (1, 2, 20):
        assert facets(limit) == _facets_of_entries(catalogue, names, limit)
    lyon.name = "Métropole de Lyon"                 # a new label for every dataset of lyon
    repo.get_dataset(catalogue, "velos").keywords = ["vélo", "nature"]
    catalogue.delete(repo.get_dataset(catalogue, "hopitaux"))
    catalogue.commit()
    assert facets(20) == _facets_of_entries(catalogue, names, 20)
    assert ("lyon", "Métropole de Lyon", 6) in facets(20)["organisation"]
