"""A portal with a small job-offers dataset whose answers are known, shared by the API tests."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mutuelle.app import create_app
from mutuelle.core.config import Settings

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]

OFFERS = """id;code_rome;libelle;code_commune;salaire;date_publication;latitude;longitude;teletravail
1;K2204;Agent de nettoyage;69123;1800,50;01/03/2024;45,7640;4,8357;non
2;K2204;Agent d'entretien;69123;1750,00;15/03/2024;45,7500;4,8500;non
3;J1501;Aide-soignant;69266;2100,00;02/04/2024;45,7700;4,8800;oui
4;N1103;Préparateur de commandes;01004;1900,00;20/04/2024;45,9500;5,3500;non
5;G1603;Équipier polyvalent;69123;1700,00;05/05/2024;45,7600;4,8300;non
6;J1501;Infirmier de nuit;69266;2400,00;10/01/2025;45,7710;4,8810;oui
7;M1607;Secrétaire médicale;2A004;1950,00;11/02/2025;41,9192;8,7386;oui
8;K2204;Laveur de vitres;69123;;20/02/2025;45,7650;4,8400;non
"""


def make_portal(home: Path, *, editing: bool = True) -> TestClient:
    """A portal over ``home`` with the offers dataset published (imported through the API by a
    site administrator); the client returned edits, or is anonymous when not ``editing``."""
    settings = Settings(home=home, duckdb_memory_limit="512MB")
    app = create_app(settings)
    editor = TestClient(app, client=LOOPBACK, raise_server_exceptions=False, headers=admin_key(settings))
    assert editor.post("/api/organisations", json={"name": "Lyon", "slug": "lyon"}).status_code == 201
    assert editor.post("/api/datasets", json={"organisation": "lyon", "title": "Offres d'emploi",
                                              "slug": "offres", "themes": ["emploi"]}).status_code == 201
    response = editor.post("/api/datasets/offres/versions",
                           files={"file": ("offres.csv", OFFERS.encode("cp1252"))})
    assert response.status_code == 201, response.text
    assert editor.post("/api/datasets/offres/publish").status_code == 200
    assert editor.post("/api/datasets", json={"organisation": "lyon", "title": "Brouillon",
                                              "slug": "brouillon"}).status_code == 201
    response = editor.post("/api/datasets/brouillon/versions",
                           files={"file": ("b.csv", b"code;secret\n01001;42\n")})
    assert response.status_code == 201, response.text
    if editing:
        return editor
    return TestClient(app, client=LOOPBACK, raise_server_exceptions=False)


RECORDS = "/api/explore/v2.1/catalog/datasets/offres/records"
