"""Languages of the pages: French by default, English second.

Messages are written in French in the templates and translated from gettext ``.po``
catalogues read at run time; numbers, dates and sizes are formatted per language with Babel.
The services speak English (the API's language): their messages reach a French page through a
table of message patterns (``service_message``).
"""

from __future__ import annotations

import gettext as _gettext
import io
import logging
import numbers
import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_COOKIE = "lang"
LOCALE_DIR = Path(__file__).parent / "locale"
#: Dates and times are shown in the portal's time zone (they are stored in UTC).
TIME_ZONE = ZoneInfo("Europe/Paris")
#: Babel date patterns: ``24/11/2026`` in French, ``Nov 24, 2026`` in English.
DATE_FORMATS = {"fr": "dd/MM/yyyy", "en": "medium"}
SIZE_UNITS = {"fr": ("o", "ko", "Mo", "Go", "To"), "en": ("B", "kB", "MB", "GB", "TB")}


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The gettext translations of ``lang``, compiled in memory from its ``.po`` catalogue."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT_LANGUAGE or not path.exists():
        return _FrenchSource()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


class _FrenchSource(_gettext.NullTranslations):
    """The source language: messages as written, with the French plural rule (0 and 1 singular)."""

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return msgid1 if n <= 1 else msgid2


def gettext(lang: str, msgid: str, /, **values: object) -> str:
    """``msgid`` in ``lang``, with ``%(name)s`` placeholders filled from ``values``."""
    text = translations(lang).gettext(msgid)
    return text % values if values else text


def ngettext(lang: str, singular: str, plural: str, count: int, /, **values: object) -> str:
    """The singular or plural form for ``count`` in ``lang``, placeholders filled from ``values``."""
    text = translations(lang).ngettext(singular, plural, count)
    return text % values if values else text


def choose_language(query: str | None, cookie: str | None) -> str:
    """``?lang=`` first, then the cookie (set by the language switch); otherwise French.

    The portal of a French local government speaks French first: a browser's
    ``Accept-Language`` alone does not switch it (English is one click away)."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def format_number(value: float | Decimal | str, lang: str) -> str:
    """``1 234 567,5`` in French, ``1,234,567.5`` in English, integers and decimals alike
    (NumPy's and DuckDB's too); every decimal kept. Text that is no number is given back."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        value = int(value)
    elif isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            return str(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, Decimal):
        value = Decimal(str(value))  # the shortest exact form, not the binary expansion
    if isinstance(value, Decimal) and not value.is_finite():
        return str(value)
    return babel_numbers.format_decimal(value, locale=lang, decimal_quantization=False)


def _local(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; the catalogue stores UTC.
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(TIME_ZONE)


def format_date(value: date | datetime | None, lang: str) -> str:
    """``24/11/2026`` in French, ``Nov 24, 2026`` in English."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value).date()
    return babel_dates.format_date(value, DATE_FORMATS.get(lang, "medium"), locale=lang)


def format_datetime(value: datetime | None, lang: str) -> str:
    """The date as ``format_date`` and the time as ``14:05``, in the portal's time zone."""
    if value is None:
        return ""
    local = _local(value)
    return f"{format_date(local, lang)} {babel_dates.format_time(local, 'HH:mm', locale=lang)}"


def format_size(byte_count: int | None, lang: str) -> str:
    """A file size: ``1,2 Mo`` in French, ``1.2 MB`` in English (powers of 1000)."""
    if byte_count is None:
        return ""
    units = SIZE_UNITS.get(lang, SIZE_UNITS["en"])
    size = float(byte_count)
    for unit in units:
        if size < 999.5 or unit == units[-1]:  # 999 999 o reads 1 Mo, not 1 000 ko
            shown = format_number(round(size, 1 if size < 100 and unit != units[0] else 0), lang)
            return f"{shown}\u00a0{unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _lang(context: Context) -> str:
    return str(context.get("lang") or DEFAULT_LANGUAGE)


@pass_context
def _jinja_gettext(context: Context, msgid: str, /, **values: object) -> str:
    return gettext(_lang(context), msgid, **values)


@pass_context
def _jinja_ngettext(context: Context, singular: str, plural: str, count: int, /,
                    **values: object) -> str:
    values.setdefault("num", format_number(count, _lang(context)))
    return ngettext(_lang(context), singular, plural, count, **values)


def install(env: Environment) -> None:
    """Give templates ``_()``, ``ngettext()`` and the ``number``, ``date``, ``datetime``,
    ``filesize`` and ``service_message`` filters; each reads the page's ``lang`` from the
    template context."""
    env.globals["_"] = _jinja_gettext
    env.globals["gettext"] = _jinja_gettext
    env.globals["ngettext"] = _jinja_ngettext
    env.filters["number"] = pass_context(lambda ctx, v: "" if v is None else format_number(v, _lang(ctx)))
    env.filters["date"] = pass_context(lambda ctx, v: format_date(v, _lang(ctx)))
    env.filters["datetime"] = pass_context(lambda ctx, v: format_datetime(v, _lang(ctx)))
    env.filters["filesize"] = pass_context(lambda ctx, v: format_size(v, _lang(ctx)))
    env.filters["service_message"] = _jinja_service_message


# --- the services' messages, in French ------------------------------------------------------
# The services (ingest, query, observatory, access...) write their messages in English, for the
# API and the log; a French page shows them in French through the table below. Each entry is
# an English message with its values as ``{name}`` and its French form. The kind of a value is
# its name less trailing digits: ``q`` a quoted value ('x', shown « x »), ``n`` a number, ``w``
# a word, ``t`` any text kept as is, ``msg`` a message translated in turn, ``types``, ``action``
# and ``method`` codes named in French. A message "A; B (line 3)" is translated piece by piece.

_KINDS = {"q": r"'[^']*'|\"[^\"]*\"", "n": r"-?\d[\d,.]*", "w": r"[\w.:-]+", "t": r".+?",
          "msg": r".+", "types": r"[a-z]+(?:, [a-z]+)*", "action": r"[a-z]+",
          "method": r"[a-z]+", "field": r"[\w.]+"}
#: Column types (``ingest.model.COLUMN_TYPES``) as the import form names them.
COLUMN_TYPE_NAMES = {"integer": "entier", "decimal": "décimal", "boolean": "booléen",
                     "date": "date", "datetime": "date et heure", "text": "texte",
                     "geometry": "géométrie"}
_CODE_NAMES = {
    "types": COLUMN_TYPE_NAMES,
    "action": {"edit": "modifier", "publish": "publier", "manage": "gérer", "submit": "soumettre",
               "create": "créer", "delete": "supprimer", "comment": "commenter", "copy": "copier",
               "read": "lire", "define": "définir"},
    "method": {"quantile": "quantiles", "jenks": "seuils naturels (Jenks)",
               "equal": "intervalles égaux", "manual": "manuelle"},
    # the parameters of forms and addresses, as their labels say
    "field": {"page": "page", "q": "recherche", "sort": "tri", "vintage": "millésime",
              "level": "niveau", "indicator": "indicateur", "indicator2": "second indicateur",
              "method": "méthode", "classes": "nombre de classes", "breaks": "seuils",
              "title": "titre", "slug": "identifiant", "organisation": "organisation",
              "email": "adresse électronique", "password": "mot de passe",
              "current_password": "mot de passe actuel", "dataset": "jeu de données",
              "label": "libellé", "numerator": "numérateur", "denominator": "dénominateur",
              "code_column": "colonne des codes", "filters": "filtres", "access": "accès",
              "frequency": "fréquence", "producer": "producteur", "licence": "licence",
              "contact": "adresse électronique"},
}

SERVICE_MESSAGES: tuple[tuple[str, str], ...] = (
    # HTTP and the declared shape of parameters (FastAPI, pydantic)
    ("Not Found", ""),  # the page's title says it
    ("Method Not Allowed", ""),
    ("{w} is not allowed here; allowed: {t}",
     "la méthode {w} n’est pas acceptée à cette adresse ; méthodes acceptées : {t}"),
    ("Field required", "ce champ est obligatoire"),
    ("too many queries at once; retry in a few seconds",
     "trop de requêtes à la fois ; réessayez dans quelques secondes"),
    ("the catalogue is busy; retry in a few seconds",
     "le catalogue est très sollicité ; réessayez dans quelques secondes"),
    ("Input should be a valid integer, unable to parse string as an integer",
     "un nombre entier est attendu"),
    ("Input should be a valid integer, got a number with a fractional part",
     "un nombre entier est attendu, sans décimales"),
    ("Input should be a valid integer", "un nombre entier est attendu"),
    ("Input should be a valid number, unable to parse string as a number", "un nombre est attendu"),
    ("Input should be a valid boolean, unable to interpret input", "oui ou non est attendu"),
    ("Input should be greater than or equal to {n}", "la valeur doit être au moins {n}"),
    ("Input should be greater than {n}", "la valeur doit dépasser {n}"),
    ("Input should be less than or equal to {n}", "la valeur doit être au plus {n}"),
    ("Input should be less than {n}", "la valeur doit être inférieure à {n}"),
    ("String should have at most {n} characters", "au plus {n} caractères"),
    ("String should have at least {n} characters", "au moins {n} caractères"),
    # who may do what (access.policy, members)
    ("no dataset {q}", "aucun jeu de données {q}"),
    ("no version {w} of dataset {q}", "aucune version {w} du jeu de données {q}"),
    ("no indicator {q}", "aucun indicateur {q}"),
    ("no scenario {q}", "aucun scénario {q}"),
    ("no dashboard {q}", "aucun tableau de bord {q}"),
    ("no chart {q}", "aucun graphique {q}"),
    ("no organisation {q}", "aucune organisation {q}"),
    ("no group {q}", "aucun groupe {q}"),
    ("no user {q}", "aucun compte {q}"),
    ("no thread {q}", "aucune discussion {q}"),
    ("no field {q} in version {n}", "aucun champ {q} dans la version {n}"),
    ("dataset {q} has no published version", "le jeu de données {q} n’a aucune version publiée"),
    ("no {w} with code {q}", "aucun territoire de niveau {w} n’a le code {q}"),
    ("no {w} with code {q} in vintage {n}",
     "aucun territoire de niveau {w} n’a le code {q} au millésime {n}"),
    ("dataset {q}", "jeu de données {q}"),
    ("indicator {q}", "indicateur {q}"),
    ("scenario {q}", "scénario {q}"),
    ("dashboard {q}", "tableau de bord {q}"),
    ("chart {q}", "graphique {q}"),
    ("version {w} of dataset {q}", "version {w} du jeu de données {q}"),
    ("sign in to change {msg}", "connectez-vous pour modifier cet objet : {msg}"),
    ("you may not {action} {msg}", "vous n’avez pas le droit de {action} cet objet : {msg}"),
    ("this API key may only read; {msg} cannot be changed with it",
     "cette clé d’API ne permet que la lecture : {msg} ne peut pas être modifié avec elle"),
    ("sign in to create datasets", "connectez-vous pour créer des jeux de données"),
    ("you are an editor of no organisation: you may not create datasets",
     "vous n’êtes éditeur d’aucune organisation : vous ne pouvez pas créer de jeu de données"),
    ("sign in as a site administrator", "connectez-vous en tant qu’administrateur du site"),
    ("only site administrators manage accounts",
     "seuls les administrateurs du site gèrent les comptes"),
    ("sign in to manage members", "connectez-vous pour gérer les membres"),
    ("sign in to take part in discussions", "connectez-vous pour participer aux discussions"),
    ("you may not discuss this object", "vous ne pouvez pas discuter de cet objet"),
    ("cross-site request refused: this form or call must come from this portal",
     "demande refusée : ce formulaire doit être envoyé depuis ce portail"),
    ("this form has expired or was not sent by this portal: reload the page and try again",
     "ce formulaire a expiré ou ne vient pas de ce portail : rechargez la page et recommencez"),
    ("the address holds a NUL character", "l’adresse contient un caractère NUL"),
    # the catalogue and the workflow
    ("a dataset {q} already exists", "un jeu de données {q} existe déjà"),
    ("a dataset needs a title", "un jeu de données doit avoir un titre"),
    ("invalid dataset slug {q}: lower-case letters, digits and hyphens",
     "identifiant de jeu de données {q} invalide : lettres minuscules, chiffres et tirets"),
    ("the slug {q} is reserved: choose another", "l’identifiant {q} est réservé : choisissez-en un autre"),
    ("a dataset needs a published version before it can be published",
     "un jeu de données ne peut être publié qu’avec une version publiée"),
    ("the dataset is already published", "le jeu de données est déjà publié"),
    ("import a file (a version) before submitting the dataset for review",
     "importez un fichier (une version) avant de soumettre le jeu de données à la relecture"),
    ("version {n} is already published", "la version {n} est déjà publiée"),
    # importing a file (ingest)
    ("no file was sent", "aucun fichier n’a été envoyé"),
    ("the file is empty", "le fichier est vide"),
    ("the sheet is empty", "la feuille est vide"),
    ("the workbook has no sheet", "le classeur n’a aucune feuille"),
    ("a row has {n} fields instead of {n2} (ragged rows may be allowed on import)",
     "une ligne a {n} champs au lieu de {n2} (les lignes irrégulières peuvent être acceptées "
     "à l’import)"),
    ("column {q}: {q2} is not {msg}", "colonne {q} : {q2} n’est pas {msg}"),
    ("an integer", "un nombre entier"),
    ("a decimal number", "un nombre décimal"),
    ("a boolean (oui/non, true/false)", "un booléen (oui/non, true/false)"),
    ("a date ({t})", "une date ({t})"),
    ("a date and time ({t})", "une date et heure ({t})"),
    ("a point 'lat, lon'", "un point « lat, lon »"),
    ("a GeoJSON geometry", "une géométrie GeoJSON"),
    ("dataset {q} has no column {q2}", "le jeu de données {q} n’a pas de colonne {q2}"),
    ("no column {q} in the dataset; columns: {t}",
     "aucune colonne {q} dans le jeu de données ; colonnes : {t}"),
    ("type override {q} must look like column=type",
     "le type imposé {q} doit s’écrire colonne=type"),
    ("unknown type {q} for column {q2}: one of {types}",
     "type {q} inconnu pour la colonne {q2} : au choix {types}"),
    ("unknown type {q} for {q2} (one of: {types})",
     "type {q} inconnu pour la colonne {q2} (au choix : {types})"),
    ("a type is given for {q}, which is not a column of the file",
     "un type est imposé pour {q}, qui n’est pas une colonne du fichier"),
    ("the {w} column {q} is not in the file", "la colonne {q} ({w}) n’est pas dans le fichier"),
    ("the file is not {t}", "le fichier n’est pas encodé en {t}"),
    ("unknown encoding {q}", "encodage {q} inconnu"),
    ("impossible delimiter {q}", "séparateur {q} impossible"),
    ("not a text table: the file holds binary bytes",
     "ce n’est pas un tableau texte : le fichier contient des octets binaires"),
    ("not a text table: the file is {t}", "ce n’est pas un tableau texte : le fichier est {t}"),
    ("the file is {t}, not a text table nor a map layer",
     "le fichier est {t}, ni un tableau texte ni une couche cartographique"),
    ("the first line is empty; it must hold the column names",
     "la première ligne est vide : elle doit contenir les noms des colonnes"),
    ("the first line is longer than {n} MiB", "la première ligne dépasse {n} Mio"),
    ("the file has {t} columns, more than the limit of {n} (MUTUELLE_MAX_COLUMNS)",
     "le fichier a {t} colonnes, plus que la limite de {n} (MUTUELLE_MAX_COLUMNS)"),
    ("the file is {n} bytes, more than the limit of {n2} (MUTUELLE_MAX_UPLOAD_BYTES)",
     "le fichier fait {n} octets, plus que la limite de {n2} (MUTUELLE_MAX_UPLOAD_BYTES)"),
    ("the file is {n} bytes, more than the {n2} accepted (MUTUELLE_MAX_UPLOAD_BYTES)",
     "le fichier fait {n} octets, plus que les {n2} acceptés (MUTUELLE_MAX_UPLOAD_BYTES)"),
    ("file {q} is over the limit of {n} bytes (MUTUELLE_MAX_UPLOAD_BYTES)",
     "le fichier {q} dépasse la limite de {n} octets (MUTUELLE_MAX_UPLOAD_BYTES)"),
    ("the file cannot be read: {t}", "le fichier ne peut pas être lu : {t}"),
    ("the file could not be read (did it change during the import?)",
     "le fichier n’a pas pu être lu (a-t-il changé pendant l’import ?)"),
    ("the file is an SQLite database, not a GeoPackage",
     "le fichier est une base SQLite, pas un GeoPackage"),
    ("a Shapefile is several files: send a zip holding the .shp, .shx, .dbf and .prj together",
     "un Shapefile est fait de plusieurs fichiers : envoyez un zip contenant ensemble les "
     ".shp, .shx, .dbf et .prj"),
    ("a .dbf alone is only the attribute table of a Shapefile: send a zip holding the .shp, "
     ".shx, .dbf and .prj together",
     "un .dbf seul n’est que la table attributaire d’un Shapefile : envoyez un zip contenant "
     "ensemble les .shp, .shx, .dbf et .prj"),
    ("the file is named .{w} but its content is not a {w2} file",
     "le fichier se termine par .{w} mais son contenu n’est pas un fichier {w2}"),
    ("the format of the file is not recognised: send CSV, Excel, ODS, GeoJSON, a zipped "
     "Shapefile or a GeoPackage",
     "le format du fichier n’est pas reconnu : envoyez un CSV, un Excel, un ODS, un GeoJSON, "
     "un Shapefile zippé ou un GeoPackage"),
    ("the file is an Office document that is not a spreadsheet",
     "le fichier est un document Office qui n’est pas un tableur"),
    ("the zip file is damaged: {t}", "le fichier zip est endommagé : {t}"),
    ("cannot read {w} files here", "les fichiers {w} ne sont pas lus ici"),
    ("a zip inside the zip is not read: send the inner file",
     "un zip dans le zip n’est pas lu : envoyez le fichier qu’il contient"),
    ("the zip holds several Shapefiles; choose one: {t}",
     "le zip contient plusieurs Shapefiles ; choisissez-en un : {t}"),
    ("the zip holds {t} but no .shp: the Shapefile is incomplete",
     "le zip contient {t} mais aucun .shp : le Shapefile est incomplet"),
    ("the zip holds no table or map layer (it holds: {t})",
     "le zip ne contient aucun tableau ni couche cartographique (il contient : {t})"),
    ("the zip holds several files; send one at a time: {t}",
     "le zip contient plusieurs fichiers ; envoyez-les un par un : {t}"),
    ("not a readable zip file: {t}", "ce n’est pas un fichier zip lisible : {t}"),
    ("the zip holds an entry with an absolute path; refused",
     "le zip contient une entrée au chemin absolu : refusé"),
    ("the zip holds an entry that points outside its folder ('..'); refused",
     "le zip contient une entrée qui sort de son dossier (« .. ») : refusé"),
    ("the zip holds an entry that points outside its folder; refused",
     "le zip contient une entrée qui sort de son dossier : refusé"),
    ("the zip holds an entry with a NUL character in its name; refused",
     "le zip contient une entrée dont le nom a un caractère NUL : refusé"),
    ("the zip holds {n} entries, more than the {n2} accepted",
     "le zip contient {n} entrées, plus que les {n2} acceptées"),
    ("the zip holds a symbolic link; refused", "le zip contient un lien symbolique : refusé"),
    ("the zip is encrypted; send it without a password",
     "le zip est chiffré : envoyez-le sans mot de passe"),
    ("the zip holds two entries for the same path; refused",
     "le zip contient deux entrées au même chemin : refusé"),
    ("the zip inflates to {n} bytes, more than the {n2} accepted (MUTUELLE_MAX_UNZIPPED_BYTES)",
     "le zip décompressé ferait {n} octets, plus que les {n2} acceptés "
     "(MUTUELLE_MAX_UNZIPPED_BYTES)"),
    ("the zip is damaged or uses an unsupported compression: {t}",
     "le zip est endommagé ou utilise une compression non prise en charge : {t}"),
    ("the spreadsheet cannot be read: {t}", "le tableur ne peut pas être lu : {t}"),
    ("there is no sheet named {q}; the sheets are: {t}",
     "aucune feuille ne s’appelle {q} ; les feuilles sont : {t}"),
    ("every sheet of the workbook is empty; sheets: {t}",
     "toutes les feuilles du classeur sont vides ; feuilles : {t}"),
    ("the header row is counted from 1, not {n}",
     "la ligne d’en-tête se compte à partir de 1, pas {n}"),
    ("the header row is past the end of the sheet", "la ligne d’en-tête est après la fin de la feuille"),
    ("the sheet has {n} columns, more than the {n2} accepted (MUTUELLE_MAX_COLUMNS)",
     "la feuille a {n} colonnes, plus que les {n2} acceptées (MUTUELLE_MAX_COLUMNS)"),
    ("the {w} file cannot be read: {t}", "le fichier {w} ne peut pas être lu : {t}"),
    ("the {w} file holds no layer with geometries",
     "le fichier {w} ne contient aucune couche avec des géométries"),
    ("the file has no geometry column", "le fichier n’a aucune colonne de géométrie"),
    ("there is no layer named {q}; the layers are: {t}",
     "aucune couche ne s’appelle {q} ; les couches sont : {t}"),
    ("invalid GeoJSON: the file is not UTF-8", "GeoJSON invalide : le fichier n’est pas en UTF-8"),
    ("the JSON file is not GeoJSON: expected a FeatureCollection, a Feature or a geometry",
     "le fichier JSON n’est pas du GeoJSON : une FeatureCollection, une Feature ou une géométrie "
     "est attendue"),
    ("invalid GeoJSON: {t}", "GeoJSON invalide : {t}"),
    # the JSON reader's words (json.JSONDecodeError)
    ("Expecting value", "une valeur est attendue"),
    ("Expecting property name enclosed in double quotes",
     "un nom de propriété entre guillemets droits est attendu"),
    ("Expecting {q} delimiter", "le séparateur {q} est attendu"),
    ("Extra data", "des données suivent la fin du document"),
    ("Unterminated string starting at", "une chaîne n’est pas terminée"),
    ("Invalid control character at", "caractère de contrôle invalide"),
    ("the Shapefile is incomplete: {t} ({w}) is missing; zip the .shp, .shx, .dbf and .prj "
     "together",
     "le Shapefile est incomplet : {t} ({w}) manque ; zippez ensemble les .shp, .shx, .dbf et .prj"),
    ("the Shapefile has no {t}.prj, so its coordinate system is unknown; add the .prj to the zip "
     "or give the source CRS (for example EPSG:2154 for Lambert-93)",
     "le Shapefile n’a pas de {t}.prj : son système de coordonnées est inconnu ; ajoutez le .prj "
     "au zip ou indiquez le système d’origine (par exemple EPSG:2154 pour le Lambert-93)"),
    ("unknown coordinate system {q}: give an EPSG code such as EPSG:2154 (Lambert-93) or "
     "EPSG:4326",
     "système de coordonnées {q} inconnu : indiquez un code EPSG tel que EPSG:2154 (Lambert-93) "
     "ou EPSG:4326"),
    ("the file does not say its coordinate system; give the source CRS (for example EPSG:2154 "
     "for Lambert-93)",
     "le fichier n’indique pas son système de coordonnées : indiquez le système d’origine (par "
     "exemple EPSG:2154 pour le Lambert-93)"),
    ("the attribute table (.dbf) cannot be read as {t}: give UTF-8 or a one-byte encoding such "
     "as cp1252, latin-1 or cp850",
     "la table attributaire (.dbf) ne peut pas être lue en {t} : indiquez UTF-8 ou un encodage "
     "d’un octet tel que cp1252, latin-1 ou cp850"),
    # the observatory
    ("indicator {q} is computed from {w} codes: it has no {w2} values; levels: {t}",
     "l’indicateur {q} est calculé à partir des codes {w} : il n’a pas de valeurs par {w2} ; "
     "niveaux : {t}"),
    ("indicator {q} is a median of {w} values, which cannot be aggregated: it has no {w2} values",
     "l’indicateur {q} est une médiane de valeurs par {w}, qui ne s’agrège pas : il n’a pas de "
     "valeurs par {w2}"),
    ("unknown level {q}; levels are {t}", "niveau {q} inconnu ; les niveaux sont : {t}"),
    ("unknown level {q}: choose one of {t}", "niveau {q} inconnu : choisissez parmi {t}"),
    ("breaks are given only with the manual method, not {method}",
     "les seuils ne se donnent qu’avec la méthode manuelle, pas {method}"),
    ("choose the dataset the indicator is computed from",
     "choisissez le jeu de données dont l’indicateur est calculé"),
    ("name the column holding the codes (or the points)",
     "nommez la colonne qui contient les codes (ou les points)"),
    ("the numerator is needed (a column or an expression)",
     "le numérateur est nécessaire (une colonne ou une expression)"),
    ("give the indicator a label", "donnez un libellé à l’indicateur"),
    ("an indicator {q} already exists", "un indicateur {q} existe déjà"),
    ("{q} names a page of the site: choose another id",
     "{q} est le nom d’une page du site : choisissez un autre identifiant"),
    ("the filters keep no row of the dataset", "les filtres ne gardent aucune ligne du jeu de données"),
    ("{field}: unknown indicator {q}", "{field} : indicateur {q} inconnu"),
    ("{field} must be a whole number, not {q}", "{field} : un nombre entier est attendu, pas {q}"),
    ("{field} must be a whole number from {n} to {n2}, not {t}",
     "{field} : un nombre entier de {n} à {n2} est attendu, pas {t}"),
    ("the number of classes must be a whole number from {n} to {n2}, not {t}",
     "le nombre de classes doit être un nombre entier de {n} à {n2}, pas {t}"),
    ("page must be a whole number from 1, not {q}", "la page doit être un nombre entier à partir de 1, pas {q}"),
    ("{field} must be one of {t}, not {q}", "{field} : une valeur parmi {t} est attendue, pas {q}"),
    ("{field} must be an indicator id", "{field} : l’identifiant d’un indicateur est attendu"),
    # text fields checked by core.text.check_text
    ("{field} is {n} characters long; at most {n2}",
     "{field} : {n} caractères, quand {n2} au plus sont acceptés"),
    ("{field} holds a control character ({t}) at position {n}",
     "{field} : caractère de contrôle ({t}) en position {n}"),
    ("{field} must not be empty", "{field} : ce champ ne peut pas être vide"),
    # a field's name before its message ("page: ..."); last, as the most general
    ("{field}: {msg}", "{field} : {msg}"),
)

#: Where a message says it happened, in parentheses at its end: "(line 57)".
SERVICE_PLACES: tuple[tuple[str, str], ...] = (
    ("line {n}", "ligne {n}"),
    ("line {n}, column {n2}", "ligne {n}, colonne {n2}"),
    ("byte {n}", "octet {n}"),
    ("entry {q}", "entrée {q}"),
    ("sheet {q}", "feuille {q}"),
    ("clause {q}", "clause {q}"),
    ("clause {q} at position {n}", "clause {q}, position {n}"),
    ("{w}", "{w}"),  # a file's name
)


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
                    .casefold().split())


def type_codes(text: str) -> str:
    """The import form's ``colonne=type`` pairs with each type as its code (``integer``...):
    a type may be named in French or English as the form lists them ("entier", "date et
    heure", "date and time"), accents and case aside; other words are left to the importer."""
    names = {_folded(code): code for code in COLUMN_TYPE_NAMES}
    for code, french in COLUMN_TYPE_NAMES.items():
        for lang in LANGUAGES:
            names[_folded(gettext(lang, french))] = code
    pairs = []
    for part in text.split(","):
        column, sep, kind = part.rpartition("=")
        pairs.append(f"{column}={names.get(_folded(kind), kind.strip())}" if sep else part)
    return ",".join(pairs)


def _compile(english: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", english)
    pattern = "".join(re.escape(part) if i % 2 == 0
                      else f"(?P<{part}>{_KINDS[part.rstrip('0123456789')]})"
                      for i, part in enumerate(parts))
    return re.compile(pattern, re.S)


_MESSAGES = tuple((_compile(en), fr) for en, fr in SERVICE_MESSAGES)
_PLACES = tuple((_compile(en), fr) for en, fr in SERVICE_PLACES)
_PLACE = re.compile(r"(?P<message>.+) \((?P<where>[^()]+)\)", re.S)


def _french_value(name: str, value: str) -> str | None:
    kind = name.rstrip("0123456789")
    if kind == "q":
        return f"« {value[1:-1]} »"
    if kind == "msg":
        return _french(value)
    if kind == "n":  # 1,000 (Python's grouping) is written 1 000 in French
        return value.replace(",", "\u202f") if re.fullmatch(r"-?\d{1,3}(,\d{3})+", value) else value
    if kind == "t":  # a library's words or a list of names: translated if the table knows them
        return _french(value) or value
    if kind == "field":
        value = value.removeprefix("state.")  # the observatory's saved state, as a form
    if kind in _CODE_NAMES:
        names = _CODE_NAMES[kind]
        return ", ".join(names.get(code, code) for code in value.split(", "))
    return value


def _from_table(text: str, table: tuple[tuple[re.Pattern[str], str], ...]) -> str | None:
    for pattern, french in table:
        if (match := pattern.fullmatch(text)) is None:
            continue
        values = {name: _french_value(name, value) for name, value in match.groupdict().items()}
        if None in values.values():
            continue
        return _fill(french, values)
    return None


def _fill(french: str, values: dict[str, str | None]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), french)


def _french(text: str) -> str | None:
    """``text`` (a service's English message) in French, or None if the table lacks a piece."""
    if (placed := _PLACE.fullmatch(text)) is not None:
        where = _from_table(placed["where"], _PLACES)
        if where is not None and (message := _french(placed["message"])) is not None:
            return f"{message} ({where})"
    if (found := _from_table(text, _MESSAGES)) is not None:
        return found
    if "; " in text:
        pieces = [_french(piece) for piece in text.split("; ")]
        if None not in pieces:
            return " ; ".join(str(piece) for piece in pieces)
    return None


def service_message(message: str, lang: str) -> str | None:
    """A service's message (English) in ``lang``: as is in English, from the table of
    ``SERVICE_MESSAGES`` otherwise; None when the table has no French for it."""
    if lang == "en" or not message:
        return message
    found = _french(message)
    if found is None:
        log.info("untranslated_message lang=%s message=%r", lang, message)
    return found


@pass_context
def _jinja_service_message(context: Context, message: str | None, source: str = "en") -> Markup:
    """``{{ message|service_message }}``: the message in the page's language; one the table
    cannot translate is shown as written, marked as English for screen readers."""
    lang = _lang(context)
    if not message or source == lang or source != "en":
        return Markup(escape(message or ""))
    found = service_message(message, lang)
    if found is None:
        return Markup('<span lang="en">%s</span>') % message
    return Markup(escape(found))
