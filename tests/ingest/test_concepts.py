"""French column concepts from headers and the shape of sample values."""

from __future__ import annotations

import pytest

from mutuelle.ingest.concepts import detect_concept, luhn_valid, normalize_header, uai_valid


def _luhn_complete(digits: str) -> str:
    """``digits`` followed by the check digit that makes it Luhn-valid."""
    return next(digits + d for d in "0123456789" if luhn_valid(digits + d))


@pytest.mark.parametrize(("header", "normalized"), [
    ("Commune (INSEE)", "commune_insee"),
    ("  Libellé Région ", "libelle_region"),
    ("CODE_IRIS", "code_iris"),
    ("N° SIRET", "n_siret"),
])
def test_headers_are_normalized_without_accents_or_case(header, normalized):
    assert normalize_header(header) == normalized


@pytest.mark.parametrize(("header", "values", "concept"), [
    ("code_commune", ["01001", "2A004", "97101"], "code_commune"),
    ("COM", ["69123", "2B033"], "code_commune"),
    ("INSEE_COM", ["69123"], "code_commune"),
    ("codgeo", ["69381", "01004"], "code_commune"),
    ("Commune (INSEE)", ["69123", "69266"], "code_commune"),
    ("IRIS", ["010040001", "2A0040001"], "code_iris"),
    ("CODE_IRIS", ["693810101"], "code_iris"),
    ("code_postal", ["01400", "69001", "20000"], "code_postal"),
    ("cp", ["69001"], "code_postal"),
    ("dep", ["01", "2A", "971"], "code_departement"),
    ("code_departement", ["69", "2B"], "code_departement"),
    ("reg", ["84", "11"], "code_region"),
    ("epci", ["200046977"], "code_epci"),
    ("siren_epci", ["200046977", "240100883"], "siren"),
    ("siret", ["21690123100011"], "siret"),
    ("qpv", ["QN06912M", "QP069012"], "code_qpv"),
    ("code_qpv", ["QP02A001"], "code_qpv"),
    ("uai", ["0690026D", "0690023A"], "uai"),
    ("lat", ["45,764", "45.75"], "latitude"),
    ("Y", ["45.764"], "latitude"),
    ("lng", ["4,835"], "longitude"),
    ("x", ["4.835", "-1.5"], "longitude"),
    ("code_commune", [], "code_commune"),
])
def test_a_header_names_a_concept_that_the_values_confirm(header, values, concept):
    assert detect_concept(header, values) == concept


@pytest.mark.parametrize(("header", "values"), [
    ("dep", ["Rhône", "Ain"]),                 # names, not codes
    ("region", ["Auvergne-Rhône-Alpes"]),
    ("x", ["842000.5", "843100.2"]),           # Lambert-93 metres, not degrees
    ("lat", ["145.2"]),
    ("TYP_IRIS", ["H", "A"]),
    ("LIB_IRIS", ["Centre", "Gare"]),
    ("nom_commune", ["Lyon"]),
    ("population", ["270807", "12208"]),
    ("code_commune", ["20001", "Lyon", "x", "y"]),   # under 90 %
])
def test_no_concept_when_header_or_values_disagree(header, values):
    assert detect_concept(header, values) is None


def test_codes_with_a_check_digit_are_recognised_from_values_alone():
    sirets = [_luhn_complete(f"2169012310{i:03d}") for i in range(5)]
    assert detect_concept("identifiant", sirets) == "siret"
    sirens = [_luhn_complete(f"21690{i:03d}") for i in range(5)]
    assert detect_concept("numero", sirens) == "siren"
    assert detect_concept("etablissement", ["0690026D", "0690023A", "0690026D"]) == "uai"
    assert detect_concept("quartier", ["QN06912M", "QP069012", "QP069013"]) == "code_qpv"


def test_nine_digit_codes_without_a_header_are_not_taken_for_siren():
    # their first five digits are a commune of the COG (Ambérieu-en-Bugey): IRIS codes
    assert detect_concept("code", ["010040001", "010040002", "010040003", "010040004"]) == "code_iris"
    assert detect_concept("code", ["960040001", "960040002", "960040003"]) is None


def test_territory_codes_are_recognised_by_content_whatever_the_column_is_named():
    # the IRIS of Lyon's arrondissements (the column is named "id" in INSEE's extracts)
    assert detect_concept("id", ["693840302", "693810101", "692660201", "691490105"]) == "code_iris"
    assert detect_concept("zone", ["69123", "69266", "01004", "2A004"]) == "code_commune"
    assert detect_concept("territoire", ["200046977", "243500139", "200046977"]) == "code_epci"
    assert detect_concept("secteur", ["QN06912M", "QN06914M", "QN06915M"]) == "code_qpv"
    # numbers that merely look like codes are not
    assert detect_concept("valeur", ["12345", "99999", "54321", "88888"]) is None


def test_luhn_and_uai_check_letters():
    assert luhn_valid("200046977") and not luhn_valid("200046978")
    assert luhn_valid("35600000000010")  # La Poste: digits summing to a multiple of 5
    assert uai_valid("0690026D") and not uai_valid("0690026E")


def test_announced_codes_of_an_unused_departement_are_still_codes() -> None:
    from mutuelle.ingest.concepts import detect_concept

    assert detect_concept("code_commune", ["96012", "96172", "96018"]) == "code_commune"
    assert detect_concept("code_iris", ["960120101", "961720203"]) == "code_iris"
    # Unannounced, five digits are not enough to call a column a commune code.
    assert detect_concept("valeur", ["96012", "96172", "96018"] * 10) is None
