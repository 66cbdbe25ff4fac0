"""The member communes of the synthetic metropolis: codes, SIRENs, sizes and the names given
to their quarters, zones and QPV.

Codes: the fictional département is ``96``, a number INSEE never allocated (metropolitan
départements stop at 95, Corsica is 2A/2B, overseas 971-976, 98x the Pacific, 99 abroad), so
commune codes ``96xxx``, IRIS codes ``96xxxGGII``, QPV codes ``QN096nnM`` (the 2024 shape:
``QN`` + département on 3 characters + number + ``M``), commune SIRENs ``21960xxxK`` and the EPCI
SIREN ``2496...`` (the older EPCI prefix 24 followed by the département) cannot clash with real
ones.
"""

from __future__ import annotations

from dataclasses import dataclass

DEPARTEMENT = "96"


def luhn_complete(digits: str) -> str:
    """``digits`` followed by the Luhn check digit (as SIREN numbers are)."""
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


EPCI_SIREN = luhn_complete("24960017")


@dataclass(frozen=True)
class CommuneSpec:
    """A member commune: fixed identity, target population and number of IRIS of each type."""

    code: str
    name: str
    slug: str
    population: int
    n_habitat: int      # IRIS of type H (0 means a commune without IRIS: one IRIS of type Z)
    n_activite: int     # type A: activity zones
    n_divers: int       # type D: parks, forests
    has_portal: bool = True
    offset_km: float = 0.0   # head start when communes grow from their town halls

    @property
    def siren(self) -> str:
        """The commune's SIREN, shaped as real ones: 21, département, 0, number, check digit."""
        return luhn_complete("21" + self.code[:2] + "0" + self.code[2:])


# Commune numbers follow alphabetical order, as INSEE's do within a département.
COMMUNES: tuple[CommuneSpec, ...] = (
    CommuneSpec("96172", "Val-Sauvage", "val-sauvage", 236_000, 118, 3, 1, offset_km=-1.6),
    CommuneSpec("96102", "Mornebois", "mornebois", 70_000, 35, 1, 0),
    CommuneSpec("96128", "Pontlumière", "pontlumiere", 58_000, 29, 1, 0),
    CommuneSpec("96141", "Roche-Fauve", "roche-fauve", 50_000, 25, 0, 0),
    CommuneSpec("96012", "Belvent-sur-Sauvagine", "belvent-sur-sauvagine", 42_000, 21, 0, 1),
    CommuneSpec("96117", "Ormeval", "ormeval", 36_000, 18, 0, 0),
    CommuneSpec("96045", "Fontbrume", "fontbrume", 24_000, 12, 0, 1),
    CommuneSpec("96018", "Brumecombe", "brumecombe", 2_900, 0, 0, 0, has_portal=False,
                offset_km=1.2),
)

QUARTER_NAMES = (
    "Le Moulin", "Les Vignes", "La Fontaine", "Les Charmilles", "Le Port", "Les Tisserands",
    "La Verrerie", "Beauregard", "Montjoie", "Les Acacias", "Le Prieuré", "La Source",
    "Les Prés", "Bellevue", "Le Château", "Les Sablons", "La Forge", "Champfleuri",
    "Les Peupliers", "Le Bourg", "La Plaine", "Les Coteaux", "Le Marais", "La Cité-Jardin",
    "Les Chênes", "Saint-Roch", "Saint-Martin", "La Chapelle", "Les Mûriers", "Le Faubourg",
    "Les Écluses", "La Tuilerie", "Les Carrières", "Le Vallon", "Les Lilas", "La Garenne",
    "Le Clos", "Les Ormes", "Pré-Vert", "Les Trois-Ponts", "La Brasserie", "Les Filatures",
    "Grand-Champ", "La Roseraie", "Les Buttes", "La Croix-Blanche", "Les Cerisiers",
    "Le Belvédère", "Les Hauts-Prés", "La Mouline", "Les Tanneurs", "Le Bois-Joli",
    "Les Glycines", "La Gravière", "Le Pré-Fleuri", "Les Aulnes", "La Sauvagine",
    "Les Jardins", "Le Calvaire", "Les Sorbiers", "La Pépinière", "Le Mail", "Les Cordiers",
    "La Fonderie", "Les Granges", "Le Rivage", "Les Haras", "La Bruyère", "Les Noyers",
)
ACTIVITY_NAMES = ("Zone industrielle des Filatures", "Parc d'activités de la Sauvagine",
                  "Zone portuaire", "Zone d'activités du Grand-Pré", "Parc technologique Brume",
                  "Zone logistique des Combes")
DIVERS_NAMES = ("Parc des Berges", "Bois de Mornebois", "Forêt de Brume", "Parc du Belvédère")
QPV_NAMES = ("La Croix-Brune", "Les Hauts-de-Sauvagine", "Le Grand Pré", "Les Tours Bleues",
             "Champ-Rouge", "La Cité des Tanneurs", "Val-Fleuri", "Les Quatre-Vents")
