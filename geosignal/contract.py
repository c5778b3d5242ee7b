"""The report contract: every property of a white-zone report, declared once.

A report shows itself in many outward forms: the JSON the API accepts, the API's Feature, the
DWconnect export's Feature (SQL, stored by PostgreSQL), the export's JSON Schema, OpenAPI, the
representative's map form, the upload column mapping and the map popups. Each form is
*derived* here from :data:`PROPERTIES`, one :class:`Prop` per property:

==================  =======================================================================
``name``            the property's name in every form (API, export, form field, CSV column)
``kind``            value type (:data:`KINDS`): how it is validated, coerced and formatted
``vocab``           allowed values (from :mod:`geosignal.vocab`), for vocabulary kinds
``forms``           which outward forms carry it (:data:`FORMS`)
``label``           French label (form, popups, tables)
``sql``             SQL expression giving the exported value (aliases ``{r}`` reports,
                    ``{c}`` communes with the NFC name, ``{u}`` users; see
                    :func:`feature_properties_sql`)
``schema``          JSON Schema (2020-12) of the value as it is written out
``input_schema``    JSON Schema of the value as the API accepts it (writable properties)
``headers``         file column headers standing for it (folded: lower case, no accents)
``values``          value synonyms accepted in files (as written → vocabulary value; matched
                    folded), from :data:`VALUE_SYNONYMS`
``widget``          how the map form asks for it
``readers``         who may read it where readers differ (the public OGC API): everyone,
                    signed-in readers, or the report's own commune (:data:`READERS`)
==================  =======================================================================

**Unified serialisation (decided here, schema 1.x).**

* *Names.* One name per property everywhere. The filing time is ``reported_at`` in the API
  too (it was ``created_at`` there, ``reported_at`` in the export); ``updated_at`` and
  ``revision`` (``reports.change_seq``) likewise.
* *Which properties.* The API Feature carries every property describing the report
  (:data:`API`); the export adds its provenance members (``report_id`` — CSV and
  GeoPackage have no Feature id —, ``merged_reports``, ``reporter_role``,
  ``reporter_commune_nis``, ``schema_version``, ``source``), :data:`EXPORT`. A property both
  carry has the same value in both (a test compares them on a real database).
* *Times.* ISO 8601 in Europe/Brussels time with its offset (``+01:00``/``+02:00``), fraction
  of a second without trailing zeros, as PostgreSQL writes a ``timestamptz`` in JSON
  (:func:`format_datetime`).
* *Text.* Unicode NFC: descriptions are normalised by intake before they are stored (every
  path — API, form, upload — goes through it); commune names when written out (SQL
  ``normalize(…, NFC)`` once per commune in the export, :func:`unicodedata.normalize` in the
  API).
* *Numbers.* Areas (m², zones only) and lengths (m, lines only), EPSG:31370, rounded to 0.1;
  ``null`` for the other kinds.
* *Coordinates.* The export writes :data:`EXPORT_COORDINATE_DECIMALS` (6, ~0.1 m, RFC 7946's
  advice) after snapping lines and zones to that grid (a zone thinner than the grid is
  excluded, and said so; points are rounded, the same in the GeoJSON, CSV and GeoPackage).
  The API returns a report to its author unsnapped (stored in full double precision), its
  coordinates rounded to :data:`API_COORDINATE_DECIMALS` (9, ~0.1 mm): a read never snaps,
  never invalidates and never drops a report. This difference is deliberate.

Flask-free and import-light (only :mod:`geosignal.vocab`), so that migrations' tests, the
export and the intake can all read it.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from geosignal import vocab

BRUSSELS = ZoneInfo("Europe/Brussels")

#: Version of the report's outward shape (the DWconnect export schema). Bump the minor version
#: for added optional members, the major version for anything else. 1.1.0: the collection's
#: ``zones`` member (confirmed zones of overlapping reports, with their report ids). 1.2.0:
#: each Feature's ``reference`` (``CM-YYYY-NNNNN``, as the communes and the referent name it).
#: 1.3.0: the collection's ``zones_removed`` member (zones DWconnect drops since ``since``), and
#: incremental exports carry the confirmed zones changed since ``since`` (on a pass's last page).
SCHEMA_VERSION = "1.3.0"
#: ``$id`` of the export schema: carries the version.
SCHEMA_ID = f"urn:geosignal:schema:dwconnect-export:{SCHEMA_VERSION}"
#: ``source`` of every exported Feature.
SOURCE = "geosignal"
#: Reports merged into one exported Feature: always 1 in schema 1.x (no merging yet).
MERGED_REPORTS = 1
#: Why a report may be left out of an export (the collection's ``excluded`` member).
EXCLUSION_REASONS: tuple[str, ...] = ("geometry_collapsed_when_rounded",)
#: Decimals of coordinates in the export (RFC 7946, ~0.1 m) and in the API (~0.1 mm).
EXPORT_COORDINATE_DECIMALS = 6
API_COORDINATE_DECIMALS = 9
#: Largest number of households or businesses a report may declare (beyond: a typo).
MAX_COUNT = 1_000_000
#: Longest description, in characters (after NFC).
MAX_DESCRIPTION_CHARS = 5000
#: What kind of shape a report is, from its geometry's dimension (0, 1, 2).
GEOMETRY_KINDS: tuple[str, ...] = ("point", "line", "zone")
#: French labels of the geometry kinds (the other values' labels are :data:`vocab.LABELS_FR`).
GEOMETRY_KIND_LABELS: dict[str, str] = {"point": "Point", "line": "Tronçon", "zone": "Zone"}

#: Outward forms a property may appear in.
INPUT = "input"    #: the API's request body (``ReportProperties``), validated by intake
FORM = "form"      #: the representative's map form (``templates/map.html``)
UPLOAD = "upload"  #: the column mapping of uploaded files (headers, ``column_map``)
API = "api"        #: the API's Feature (``GET /api/v1/reports…``)
EXPORT = "export"  #: the DWconnect export's Feature (GeoJSON, CSV, GeoPackage; OGC API)
POPUP = "popup"    #: the lines of a report's popup on the map
FORMS: tuple[str, ...] = (INPUT, FORM, UPLOAD, API, EXPORT, POPUP)
_WRITABLE = frozenset({INPUT, FORM, UPLOAD})
_READABLE = frozenset({API, EXPORT})

#: Value kinds. Writable kinds: ``vocab`` (one value of ``vocab``), ``vocab_list`` (a list
#: of them, each once: a value named twice is refused), ``count`` (whole number 0…:data:`MAX_COUNT`, read by
#: :func:`json_integer`: ``1000.0`` and ``1e3`` are 1000), ``text``
#: (NFC, ≤ :data:`MAX_DESCRIPTION_CHARS`, no NUL), ``datetime`` (aware; naive = Brussels),
#: ``metres`` (finite number > 0). Read-only kinds: ``uuid``, ``nis``, ``name``,
#: ``integer``, ``number``, ``const``.
KINDS: tuple[str, ...] = ("vocab", "vocab_list", "count", "text", "datetime", "metres",
                          "uuid", "nis", "name", "integer", "number", "const")

#: Export properties added by a minor version of the schema: written in every Feature, but
#: optional in the schema, so that documents of the earlier minor version stay valid.
EXPORT_ADDED: tuple[str, ...] = ("reference",)

#: API properties the DWconnect export does not carry (geosignal's own bookkeeping): none
#: since schema 1.2.0, which added ``reference``.
API_ONLY: tuple[str, ...] = ()

#: Who may read a property where readers differ (the public OGC API, read without signing in):
#: everyone (``public``); signed-in readers only (``signed_in``: ``reference`` and ``revision``
#: number every report filed and every change, unvalidated ones too, so an anonymous reader
#: would learn how many there are); the report's own commune, the referent and admins
#: (``own_commune``: the free-text ``description``, which may name people).
PUBLIC, SIGNED_IN, OWN_COMMUNE = "public", "signed_in", "own_commune"
READERS: tuple[str, ...] = (PUBLIC, SIGNED_IN, OWN_COMMUNE)

#: Map-form widgets: ``select`` (``required`` ones start with a placeholder that is no value:
#: nothing is chosen for the representative), ``checkboxes``,
#: ``number``, ``date``, ``textarea``, ``hidden`` (filled by the map's script).
WIDGETS: tuple[str, ...] = ("select", "checkboxes", "number", "date", "textarea", "hidden")


@dataclass(frozen=True)
class Source:
    """What the API's Feature properties are computed from: the report (ORM row or any object
    with its column attributes), its commune's French name, its geometry kind
    (:data:`GEOMETRY_KINDS`), and its planar area (m²) and length (m) in EPSG:31370."""

    report: Any
    commune_name: str
    geometry_kind: str
    area_m2: float | None
    length_m: float | None


@dataclass(frozen=True)
class Prop:
    """One property of a report, in every outward form (see the module's table)."""

    name: str
    kind: str
    label: str
    forms: frozenset[str]
    schema: dict[str, Any]
    sql: str | None = None
    vocab: tuple[str, ...] = ()
    nullable: bool = False
    required: bool = False
    input_schema: dict[str, Any] | None = None
    headers: tuple[str, ...] = ()
    values: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    widget: str | None = None
    #: The API's value, from a :class:`Source` (properties the API carries).
    api_value: Callable[[Source], Any] | None = None
    #: Who may read it where readers differ (:data:`READERS`).
    readers: str = PUBLIC

    @property
    def writable(self) -> bool:
        """True when a representative gives it (API body, form, upload)."""
        return bool(self.forms & _WRITABLE)

    @property
    def read_only(self) -> bool:
        """True when it is computed by geosignal and only ever written out."""
        return not self.writable


# --------------------------------------------------------------------------- formatting

def format_datetime(dt: datetime | None) -> str | None:
    """Return an aware datetime as ISO 8601 in Europe/Brussels time with its offset, the
    fraction of a second without trailing zeros — exactly as PostgreSQL writes a
    ``timestamptz`` in JSON under ``TimeZone = 'Europe/Brussels'`` (None stays None)."""
    # remembered by the instant (in UTC): two datetimes of one zone compare by their wall time,
    # fold aside, so that 02:30 CEST and 02:30 CET of the autumn change (as psycopg gives them
    # from a server in Brussels time) were one entry, both written with the first one's offset
    return None if dt is None else _format_instant(dt.astimezone(UTC))


@functools.lru_cache(maxsize=4096)  # a file's rows share a few dates; a batch's rows one filing time
def _format_instant(dt: datetime) -> str:
    text = dt.astimezone(BRUSSELS).isoformat()
    if "." in text:
        head, _, rest = text.partition(".")
        digits, sign, offset = rest[:6], rest[6:7], rest[7:]
        digits = digits.rstrip("0")
        text = f"{head}.{digits}{sign}{offset}" if digits else f"{head}{sign}{offset}"
    return text


def nfc(text: str | None) -> str | None:
    """Return ``text`` in Unicode NFC (None stays None)."""
    return None if text is None else unicodedata.normalize("NFC", text)


def geometry_kind(geometry_type: str) -> str:
    """Return the kind (``point``, ``line``, ``zone``) of a GeoJSON geometry type."""
    if geometry_type.endswith("Point"):
        return "point"
    if geometry_type.endswith("LineString"):
        return "line"
    return "zone"


def _measure(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


class NotWholeAsWritten(float):
    """A JSON number whose float is a whole number although the number written is not one:
    ``1e-400`` underflows to 0.0 and ``0.99999999999999999999`` rounds to 1.0 when read as a
    double. :func:`json_integer` refuses it, as it refuses ``0.5``; its ``repr`` is the number
    as written, so a refusal quotes what the sender wrote (``str`` is the double's). Made by the strict JSON reader
    (:func:`geosignal.services.intake.core.loads_strict`); as a float, everything else reads
    it as the double it rounds to."""

    text: str

    def __new__(cls, text: str) -> NotWholeAsWritten:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:  # (a float's text, as the double everything else reads)
        return float.__repr__(self)


def json_integer(value: Any) -> int | None:
    """Return the whole number a decoded JSON value stands for, or None when it is none.

    The one rule for every integer property (``count`` and ``integer`` kinds), wherever a JSON
    number comes from (an API body, a PATCH, a GeoJSON upload, a number a file's driver typed):
    JSON does not tell ``1000.0`` from ``1000``, and JSON Schema 2020-12 — the schema and
    OpenAPI 3.1 geosignal publishes — calls *integer* any number whose fractional part is zero.
    So ``1000``, ``1000.0``, ``1e3`` and ``-0.0`` give 1000, 1000, 1000 and 0; a number with a
    fractional part (``1000.5``, and ``1e-400`` or ``0.99999999999999999999``, whose doubles are
    whole: :class:`NotWholeAsWritten`), a non-finite float, a boolean (``true`` is no number in JSON,
    though Python's ``bool`` is an ``int``), text or anything else give None. Range checks are
    the caller's (a huge integral float such as ``1e300`` comes back as its exact int).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() \
            and not isinstance(value, NotWholeAsWritten):
        return int(value)
    return None


def same_json_value(a: Any, b: Any) -> bool:
    """True when two decoded JSON values are the same JSON value: numbers compare by value
    (``3.0`` is ``3``, as :func:`json_integer` reads them), but a boolean is never a number
    (Python's ``True == 1`` is not JSON's); arrays and objects compare member by member."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_json_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json_value(a[k], b[k]) for k in a)
    return bool(a == b)


# --------------------------------------------------------------------------- declarations

def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_DATE_TIME = {"type": "string", "format": "date-time",
              "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$"}
_NAIVE_LOCAL = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
_NIS = {"type": "string", "pattern": "^[0-9]{5}$"}


def _vocab_input(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _vocab_list_input(values: tuple[str, ...]) -> dict[str, Any]:
    return {"anyOf": [_vocab_input(values), {"type": "array", "uniqueItems": True, "items": _vocab_input(values)}],
            "description": "A list (each value once: a value named twice is refused) or a single value."}


_COUNT_INPUT = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT,
                "description": "A whole number (JSON Schema's integer: a number whose fractional part is zero, "
                               "so 1000, 1000.0 and 1e3 are all 1000); 1000.5, a string or a boolean is refused."}


def _aliases(by_value: dict[str, tuple[str, ...]]) -> MappingProxyType:
    """The value synonyms of a property as written (vocabulary value → the names people write
    for it, in French, Dutch and English), as a map name → value; matched as intake folds text
    (case, accents, spaces, hyphens and dots do not count: ``Fibre optique`` is
    ``fibre-optique``)."""
    out: dict[str, str] = {}
    for value, names in by_value.items():
        for name in names:
            assert out.setdefault(name, value) == value, f"{name!r} stands for two values"
    return MappingProxyType(out)


#: The names people write for each vocabulary value in files (a clerk's spreadsheet, a
#: speed-test or QGIS export), per property: the one table of value synonyms. The labels the
#: pages show are read besides, in every language (intake's ``_label_aliases``), and every
#: value itself.
VALUE_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "network": {
        "mobile": ("mobile", "gsm", "mobiel", "cellular", "cellulaire", "réseau mobile", "mobiel netwerk",
                   "mobile network"),
        "fixed": ("fixed", "fixe", "vast", "fix", "réseau fixe", "vast netwerk", "fixed network", "fixed line",
                  "ligne fixe", "vaste lijn"),
    },
    "technologies": {
        "2G": ("GSM", "GPRS", "EDGE"),
        "3G": ("UMTS", "HSPA", "HSDPA", "WCDMA"),
        "4G": ("LTE", "4G LTE", "LTE-A", "LTE Advanced", "4G+"),
        "5G": ("5G NR", "NR", "5G SA", "5G NSA"),
        "DSL": ("ADSL", "ADSL2", "VDSL", "VDSL2", "xDSL", "DSL", "cuivre", "koper", "copper"),
        "cable": ("cable", "câble", "kabel", "coax", "coaxial", "câble coaxial", "DOCSIS"),
        "fibre": ("fibre", "fiber", "fibre optique", "fiber optic", "fibre optic", "vezel", "glasvezel", "FTTH",
                  "FTTB", "FTTP", "FTTx"),
        "FWA": ("FWA", "accès fixe sans fil", "fixed wireless", "fixed wireless access", "vaste draadloze toegang"),
        "satellite": ("satellite", "satelliet", "satellite internet", "internet par satellite"),
    },
    "operators": {
        "Proximus": ("Proximus", "Proximus SA", "Proximus NV", "Belgacom"),
        "Orange": ("Orange", "Orange Belgium", "Orange Belgique", "Orange België", "Orange B", "Orange BE",
                   "Mobistar"),
        "Telenet/BASE": ("BASE", "Telenet", "Telenet BASE", "Telenet Group", "BASE Company", "Telenet/BASE"),
        "DIGI": ("DIGI", "DIGI Belgium", "Digi Communications"),
        "VOO": ("VOO", "VOO SA"),
        "other": ("other", "autre", "autres", "andere", "overige"),
    },
    "issue": {
        "no_coverage": ("pas de couverture", "aucune couverture", "sans couverture", "zone blanche",
                        "pas de réseau", "aucun réseau", "pas de signal", "aucun signal", "no coverage",
                        "no network", "no signal", "geen dekking", "geen bereik", "geen netwerk",
                        "geen signaal", "witte zone", "white zone"),
        "weak_signal": ("signal faible", "faible signal", "mauvais signal", "mauvaise réception", "weak signal",
                        "poor signal", "low signal", "zwak signaal", "slecht bereik", "slechte ontvangst"),
        "no_data": ("pas de données", "pas de données mobiles", "aucune donnée", "pas de data", "no data",
                    "no mobile data", "geen data", "geen mobiele data", "geen gegevens"),
        "slow_speed": ("débit lent", "débit faible", "débit insuffisant", "connexion lente", "vitesse lente",
                       "slow speed", "slow", "low speed", "slow connection", "trage snelheid", "traag",
                       "trage verbinding", "lage snelheid"),
        "intermittent": ("intermittent", "connexion intermittente", "coupures", "connexion instable",
                         "instable", "unstable", "unstable connection", "onderbroken", "onstabiel",
                         "onstabiele verbinding", "wegvallende verbinding"),
    },
    "setting": {
        "outdoor": ("extérieur", "dehors", "à l'extérieur", "outdoor", "outdoors", "outside", "buiten", "buitenshuis"),
        "indoor": ("intérieur", "dedans", "à l'intérieur", "indoor", "indoors", "inside", "binnen",
                   "binnenshuis"),
        "vehicle": ("véhicule", "en véhicule", "en voiture", "voiture", "vehicle", "in a vehicle", "in vehicle",
                    "car", "in car", "voertuig", "in de auto", "auto", "in een voertuig"),
    },
}


def _forms(*names: str) -> frozenset[str]:
    assert set(names) <= set(FORMS), names
    return frozenset(names)


_ALL_WRITABLE = (INPUT, FORM, UPLOAD, API, EXPORT)
_PARAM_LITERALS = {"srid": ("integer", str(vocab.LAMBERT72)), "merged": ("integer", str(MERGED_REPORTS)),
                   "schema_version": ("text", f"'{SCHEMA_VERSION}'"), "source": ("text", f"'{SOURCE}'")}

#: Every property of a report, in the order the export writes them (the input-only
#: ``radius`` last).
PROPERTIES: tuple[Prop, ...] = (
    Prop("report_id", "uuid", "Identifiant", _forms(EXPORT),
         {"type": "string", "format": "uuid", "description": "Stable identifier of the report (UUID)."},
         sql="{r}.id::text"),
    Prop("reference", "name", "Référence", _forms(API, EXPORT),
         _nullable({"type": "string", "pattern": "^CM-[0-9]{4}-[0-9]{5,}$",
                    "description": "Readable reference CM-YYYY-NNNNN (year filed, Brussels time), unique, "
                                   "never reused; null only in an import's preview (not stored yet). In the "
                                   "export since schema 1.2.0."}),
         nullable=True, sql="{r}.reference", api_value=lambda s: getattr(s.report, "reference", None),
         readers=SIGNED_IN),
    Prop("commune_nis", "nis", "Code INS de la commune", _forms(API, EXPORT),
         {**_NIS, "description": "NIS (Statbel REFNIS) code of the commune holding most of the geometry."},
         sql="{r}.commune_nis", api_value=lambda s: s.report.commune_nis),
    Prop("commune_name", "name", "Commune", _forms(API, EXPORT),
         {"type": "string", "minLength": 1, "description": "French name of that commune."},
         sql="{c}.name_fr", api_value=lambda s: nfc(s.commune_name)),
    Prop("network", "vocab", "Réseau", _forms(*_ALL_WRITABLE, POPUP),
         {"enum": list(vocab.NETWORKS), "description": "Network concerned."},
         sql="{r}.network", vocab=vocab.NETWORKS, required=True,
         input_schema={**_vocab_input(vocab.NETWORKS), "description": "Network concerned (required)."},
         headers=("network", "reseau", "type_reseau", "netwerk", "type_de_reseau"),
         values=_aliases(VALUE_SYNONYMS["network"]),
         widget="select", api_value=lambda s: s.report.network),
    Prop("technologies", "vocab_list", "Technologies", _forms(*_ALL_WRITABLE, POPUP),
         {"type": "array", "uniqueItems": True, "items": {"enum": list(vocab.TECHNOLOGIES)}},
         sql="to_json({r}.technologies)", vocab=vocab.TECHNOLOGIES,
         input_schema=_vocab_list_input(vocab.TECHNOLOGIES),
         headers=("technologies", "technologie", "technology", "techno", "tech", "technologieen"),
         values=_aliases(VALUE_SYNONYMS["technologies"]),
         widget="checkboxes", api_value=lambda s: list(s.report.technologies or [])),
    Prop("operators", "vocab_list", "Opérateurs", _forms(*_ALL_WRITABLE, POPUP),
         {"type": "array", "uniqueItems": True, "items": {"enum": list(vocab.OPERATORS)}},
         sql="to_json({r}.operators)", vocab=vocab.OPERATORS,
         input_schema=_vocab_list_input(vocab.OPERATORS),
         headers=("operators", "operator", "operateur", "operateurs", "operatoren", "operateur_s"),
         values=_aliases(VALUE_SYNONYMS["operators"]),
         widget="checkboxes", api_value=lambda s: list(s.report.operators or [])),
    Prop("issue", "vocab", "Problème", _forms(*_ALL_WRITABLE, POPUP),
         _nullable({"enum": list(vocab.ISSUES)}),
         sql="{r}.issue", vocab=vocab.ISSUES, nullable=True, input_schema=_vocab_input(vocab.ISSUES),
         headers=("issue", "probleme", "type_probleme", "probleem", "problem"),
         values=_aliases(VALUE_SYNONYMS["issue"]),
         widget="select", api_value=lambda s: s.report.issue),
    Prop("setting", "vocab", "Lieu", _forms(*_ALL_WRITABLE),
         _nullable({"enum": list(vocab.SETTINGS)}),
         sql="{r}.setting", vocab=vocab.SETTINGS, nullable=True, input_schema=_vocab_input(vocab.SETTINGS),
         headers=("setting", "lieu", "contexte", "situation", "omgeving", "context"),
         values=_aliases(VALUE_SYNONYMS["setting"]),
         widget="select", api_value=lambda s: s.report.setting),
    Prop("households_affected", "count", "Ménages touchés", _forms(*_ALL_WRITABLE),
         _nullable({"type": "integer", "minimum": 0}),
         sql="{r}.households_affected", nullable=True, input_schema=_COUNT_INPUT,
         headers=("households_affected", "households", "menages", "menages_touches", "nb_menages",
                  "nombre_menages", "huishoudens", "gezinnen", "aantal_huishoudens"),
         widget="number", api_value=lambda s: s.report.households_affected),
    Prop("businesses_affected", "count", "Entreprises touchées", _forms(*_ALL_WRITABLE),
         _nullable({"type": "integer", "minimum": 0}),
         sql="{r}.businesses_affected", nullable=True, input_schema=_COUNT_INPUT,
         headers=("businesses_affected", "businesses", "entreprises", "entreprises_touchees",
                  "nb_entreprises", "nombre_entreprises", "bedrijven", "ondernemingen", "aantal_bedrijven"),
         widget="number", api_value=lambda s: s.report.businesses_affected),
    Prop("description", "text", "Description", _forms(*_ALL_WRITABLE, POPUP),
         {"type": "string", "description": "Free text of the representative (NFC)."},
         sql="{r}.description",
         input_schema={"type": "string", "maxLength": MAX_DESCRIPTION_CHARS, "pattern": "^[^\\u0000]*$",
                       "description": "Free text, NFC-normalised."},
         headers=("description", "desc", "commentaire", "commentaires", "remarque", "remarques",
                  "omschrijving", "beschrijving", "opmerking", "comment", "comments", "notes", "cmt"),
         widget="textarea", api_value=lambda s: s.report.description, readers=OWN_COMMUNE),
    Prop("observed_at", "datetime", "Date d'observation", _forms(*_ALL_WRITABLE, POPUP),
         _nullable({**_DATE_TIME, "description": "When the problem was observed."}),
         sql="{r}.observed_at", nullable=True,
         input_schema={"type": "string",
                       "anyOf": [{"format": "date-time"}, {"format": "date"}, {"pattern": _NAIVE_LOCAL}],
                       "description": "ISO 8601 with offset; a naive time or a date is read as Europe/Brussels "
                                      "time (refused when it falls in a daylight-saving gap or overlap); from "
                                      "1990-01-01, not in the future."},
         headers=("observed_at", "date", "date_observation", "date_constat", "date_releve", "datum",
                  "datetime", "timestamp", "time", "horodatage", "date_heure", "observed", "date_observed",
                  "observation_date", "datum_vaststelling"),
         widget="date", api_value=lambda s: format_datetime(s.report.observed_at)),
    Prop("reported_at", "datetime", "Signalé le", _forms(API, EXPORT),
         {**_DATE_TIME, "description": "When the report was filed."},
         sql="{r}.created_at", api_value=lambda s: format_datetime(s.report.created_at)),
    Prop("updated_at", "datetime", "Modifié le", _forms(API, EXPORT),
         {**_DATE_TIME, "description": "Last change of the report."},
         sql="{r}.updated_at", api_value=lambda s: format_datetime(s.report.updated_at)),
    Prop("revision", "integer", "Révision", _forms(API, EXPORT),
         {"type": "integer", "minimum": 1,
          "description": "Change sequence of the report: greater after every change."},
         sql="{r}.change_seq", api_value=lambda s: s.report.change_seq, readers=SIGNED_IN),
    Prop("status", "vocab", "Statut", _forms(API, EXPORT, POPUP),
         {"enum": list(vocab.STATUSES)},
         sql="{r}.status", vocab=vocab.STATUSES, api_value=lambda s: s.report.status),
    Prop("geometry_kind", "vocab", "Forme", _forms(API, EXPORT),
         {"enum": list(GEOMETRY_KINDS)},
         sql="CASE ST_Dimension({r}.geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line' ELSE 'zone' END",
         vocab=GEOMETRY_KINDS, api_value=lambda s: s.geometry_kind),
    Prop("area_m2", "number", "Surface (m²)", _forms(API, EXPORT),
         _nullable({"type": "number", "exclusiveMinimum": 0,
                    "description": "Planar area in m² (EPSG:31370), zones only."}),
         sql="CASE WHEN ST_Dimension({r}.geometry) = 2\n"
             "                    THEN round(ST_Area(ST_Transform({r}.geometry, {srid}))::numeric, 1) END",
         nullable=True, api_value=lambda s: _measure(s.area_m2) if s.geometry_kind == "zone" else None),
    Prop("length_m", "number", "Longueur (m)", _forms(API, EXPORT),
         _nullable({"type": "number", "minimum": 0,
                    "description": "Planar length in m (EPSG:31370), lines only."}),
         sql="CASE WHEN ST_Dimension({r}.geometry) = 1\n"
             "                     THEN round(ST_Length(ST_Transform({r}.geometry, {srid}))::numeric, 1) END",
         nullable=True, api_value=lambda s: _measure(s.length_m) if s.geometry_kind == "line" else None),
    Prop("merged_reports", "integer", "Signalements fusionnés", _forms(EXPORT),
         {"type": "integer", "minimum": 1,
          "description": "Reports merged into this feature (always 1 in 1.x)."},
         sql="{merged}"),
    Prop("reporter_role", "vocab", "Rôle de l'auteur", _forms(EXPORT),
         _nullable({"enum": list(vocab.ROLES)}), sql="{u}.role", vocab=vocab.ROLES, nullable=True),
    Prop("reporter_commune_nis", "nis", "Commune de l'auteur", _forms(EXPORT),
         _nullable(dict(_NIS)), sql="{u}.commune_nis", nullable=True),
    Prop("schema_version", "const", "Version du schéma", _forms(EXPORT),
         {"const": SCHEMA_VERSION}, sql="{schema_version}"),
    Prop("source", "const", "Source", _forms(EXPORT), {"const": SOURCE}, sql="{source}"),
    Prop("radius", "metres", "Rayon (m)", _forms(INPUT, FORM, UPLOAD),
         {"type": "number", "exclusiveMinimum": 0},
         input_schema={"type": "number", "exclusiveMinimum": 0,
                       "description": "Metres: a Point with a radius becomes a circle (64 segments)."},
         headers=("radius", "rayon", "straal"), widget="hidden"),
)

#: The properties by name.
BY_NAME: MappingProxyType = MappingProxyType({p.name: p for p in PROPERTIES})

def withheld(*, signed_in: bool, own_commune: bool) -> frozenset[str]:
    """Return the names of the properties a reader may not see (:attr:`Prop.readers`): an
    anonymous reader none but the ``public`` ones, a signed-in reader not the ``own_commune``
    ones of a report of another commune (``own_commune``: the report's commune is the
    reader's, or the reader is the referent or an admin)."""
    hidden = set() if own_commune else {p.name for p in PROPERTIES if p.readers == OWN_COMMUNE}
    if not signed_in:
        hidden |= {p.name for p in PROPERTIES if p.readers == SIGNED_IN}
    return frozenset(hidden)


#: Columns of an uploaded file that give the geometry (not properties): key → (French label,
#: recognised headers, folded).
COORDINATE_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "lon": ("Longitude (WGS 84)", ("lon", "lng", "long", "longitude", "lengtegraad", "lon_wgs84",
                                   "longitude_wgs84", "x_wgs84")),
    "lat": ("Latitude (WGS 84)", ("lat", "latitude", "breedtegraad", "lat_wgs84", "latitude_wgs84", "y_wgs84")),
    "x": ("X (Lambert)", ("x", "coord_x", "x_lambert", "lambert_x", "easting", "x_l72", "x_31370", "x_3812")),
    "y": ("Y (Lambert)", ("y", "coord_y", "y_lambert", "lambert_y", "northing", "y_l72", "y_31370", "y_3812")),
    "wkt": ("Géométrie (WKT)", ("wkt", "geometry", "geometrie", "geom", "the_geom", "wkt_geom", "geometry_wkt")),
    # both coordinates in one cell, as Google Maps copies them (« 50.4108, 4.4446 »), or as
    # the map form takes them (degrees-minutes-seconds, Lambert x y): read row by row by
    # geosignal.services.coordinates.parse_position
    "position": ("Coordonnées (les deux dans une colonne)",
                 ("coordonnees", "coordonnee", "coordonnees_gps", "coordonnees_wgs84", "coords", "gps",
                  "coordinates", "gps_coordinates", "coordinaten", "gps_coordinaten", "position", "positie",
                  "latlon", "latlng", "lat_lon", "lat_long", "lat_lng", "lat,lon", "lat,_lon", "lat,long",
                  "lat,_long", "lat;lon", "lat;_lon", "latitude,longitude", "latitude,_longitude",
                  "latitude_longitude", "lat_lon_wgs84")),
}

#: Fields of the map form that are not report properties (the drawn shape, the coordinates
#: typed instead and what several of them make — read by the server into the shape —, the
#: CSRF token, the idempotency key, the repair choice).
FORM_CONTROLS: tuple[str, ...] = ("csrf_token", "idempotency_key", "geometry", "coordinates", "coordinates_shape",
                                   "repair")


def _check() -> None:
    names = [p.name for p in PROPERTIES]
    assert len(names) == len(set(names)), "a property is declared twice"
    for p in PROPERTIES:
        assert p.kind in KINDS and p.forms <= set(FORMS), p.name
        assert (p.widget is not None) == (FORM in p.forms) and (p.widget in WIDGETS or p.widget is None), p.name
        assert (p.sql is not None) == (EXPORT in p.forms), p.name
        assert (p.api_value is not None) == (API in p.forms), p.name
        assert (p.input_schema is not None) == (INPUT in p.forms), p.name
        assert bool(p.headers) == (UPLOAD in p.forms), p.name
        assert not (p.forms & _WRITABLE) or (p.forms & _WRITABLE) == _WRITABLE, f"{p.name}: partly writable"
        assert set(p.values.values()) <= set(p.vocab), p.name
        assert p.readers in READERS, p.name
    seen: dict[str, str] = {}
    headers = [(h, p.name) for p in PROPERTIES for h in p.headers]
    headers += [(h, k) for k, (_, hs) in COORDINATE_COLUMNS.items() for h in hs]
    for header, name in headers:
        assert seen.setdefault(header, name) == name, f"header {header!r} stands for two columns"


_check()


# --------------------------------------------------------------------------- the forms

@functools.cache
def properties(form: str) -> tuple[Prop, ...]:
    """Return the properties an outward form carries (:data:`FORMS`), in contract order."""
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; one of {', '.join(FORMS)}")
    return tuple(p for p in PROPERTIES if form in p.forms)


def names(form: str) -> tuple[str, ...]:
    """Return the names of the properties an outward form carries, in contract order."""
    return tuple(p.name for p in properties(form))


def same_value(name: str, old: Any, new: Any) -> bool:
    """True when two values of property ``name`` say the same thing, so that replacing one
    by the other is no change: absent values (None, ``""``, ``[]``) are equal; a ``vocab_list``
    is a set (``["Orange", "Proximus"]`` is ``["Proximus", "Orange"]``); ``text`` compares
    with its line ends as stored (CRLF and CR are LF) and in NFC. ``KeyError`` for an unknown
    property."""
    kind = BY_NAME[name].kind

    def canonical(value: Any) -> Any:
        if value is None or value == "" or value == []:
            return None
        if kind == "vocab_list" and isinstance(value, (list, tuple)):
            return frozenset(value)
        if kind == "text" and isinstance(value, str):
            return nfc(value.replace("\r\n", "\n").replace("\r", "\n"))
        return value

    return canonical(old) == canonical(new)


def label(name: str) -> str:
    """Return the French label of a property (``KeyError`` for an unknown one)."""
    return BY_NAME[name].label


def value_labels() -> dict[str, str]:
    """Return the French labels of every vocabulary value (vocab's and the geometry kinds')."""
    return {**vocab.LABELS_FR, **GEOMETRY_KIND_LABELS}


def api_properties(source: Source) -> dict[str, Any]:
    """Return a report's Feature ``properties`` as the API writes them (:data:`API` names,
    contract order; values formatted as the export formats them, see the module's notes)."""
    return {p.name: p.api_value(source) for p in properties(API)}  # type: ignore[misc]


def form_fields() -> list[dict[str, Any]]:
    """Return the map form's report fields, in contract order: ``{"name", "label", "widget",
    "choices" (vocabulary, for select and checkboxes), "required", "max" (counts),
    "maxlength" (text)}``."""
    out = []
    for p in properties(FORM):
        out.append({"name": p.name, "label": p.label, "widget": p.widget, "choices": list(p.vocab),
                    "required": p.required, "max": MAX_COUNT if p.kind == "count" else None,
                    "maxlength": MAX_DESCRIPTION_CHARS if p.kind == "text" else None})
    return out


def upload_fields() -> list[dict[str, str]]:
    """Return what a file column can be mapped to (upload page, ``column_map``): the
    coordinate columns, then the writable properties, ``{"name", "label"}``."""
    coords = [{"name": k, "label": lbl} for k, (lbl, _) in COORDINATE_COLUMNS.items()]
    return coords + [{"name": p.name, "label": p.label} for p in properties(UPLOAD)]


def popup_fields() -> list[dict[str, str]]:
    """Return the lines of a report's popup, ``{"name", "label", "kind"}`` in contract order."""
    return [{"name": p.name, "label": p.label, "kind": p.kind} for p in properties(POPUP)]


def header_aliases() -> dict[str, tuple[str, ...]]:
    """Return, for each uploadable property, the folded file headers that stand for it."""
    return {p.name: p.headers for p in properties(UPLOAD)}


def coordinate_aliases() -> dict[str, tuple[str, ...]]:
    """Return, for each coordinate column key (lon, lat, x, y, wkt, position), its folded headers."""
    return {k: hs for k, (_, hs) in COORDINATE_COLUMNS.items()}


def value_aliases() -> dict[str, dict[str, str]]:
    """Return the value synonyms files may use (as written → vocabulary value: the reader folds
    them), per vocabulary property."""
    return {p.name: dict(p.values) for p in properties(UPLOAD) if p.values}


# --------------------------------------------------------------------------- SQL

def feature_joins_sql(r: str = "r", c: str = "c", u: str = "u") -> str:
    """Return the joins :func:`feature_properties_sql` needs after ``FROM reports {r}``: the
    commune (name in NFC, normalised once per commune) and the reporter (left join)."""
    return (f"JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) {c} "
            f"ON {c}.nis_code = {r}.commune_nis\n"
            f"LEFT JOIN users {u} ON {u}.id = {r}.reporter_id")


def feature_properties_args_sql(r: str = "r", c: str = "c", u: str = "u", *, bind: bool = True) -> str:
    """Return the arguments of ``json_build_object`` giving an exported Feature's
    ``properties`` (:data:`EXPORT` names, contract order), for reports aliased ``r``, the
    communes of :func:`feature_joins_sql` ``c`` and users ``u``.

    With ``bind`` the constants are bind parameters (``:srid``, ``:merged``,
    ``:schema_version``, ``:source``; see :func:`feature_properties_params`), as in a live
    query; without, SQL literals, as in a stored function or a frozen migration. Times are
    written in the session's ``TimeZone`` (set it to Europe/Brussels).
    """
    params = {k: f"CAST(:{k} AS {t})" if bind else lit for k, (t, lit) in _PARAM_LITERALS.items()}
    lines = [f"'{p.name}', " + p.sql.format(r=r, c=c, u=u, **params)  # type: ignore[union-attr]
             for p in properties(EXPORT)]
    return "\n    " + ",\n    ".join(lines)


def feature_properties_sql(r: str = "r", c: str = "c", u: str = "u", *, bind: bool = True) -> str:
    """Return the SQL expression (``json``) of an exported Feature's ``properties``; see
    :func:`feature_properties_args_sql` for the aliases and ``bind``."""
    return f"json_build_object({feature_properties_args_sql(r, c, u, bind=bind)})"


def feature_properties_params() -> dict[str, Any]:
    """Return the bind parameters of :func:`feature_properties_sql` (``bind=True``)."""
    return {"srid": vocab.LAMBERT72, "merged": MERGED_REPORTS, "schema_version": SCHEMA_VERSION,
            "source": SOURCE}


# --------------------------------------------------------------------------- JSON Schema

def input_properties_schema() -> dict[str, Any]:
    """Return the JSON Schema of a report's ``properties`` as the API accepts them (null =
    absent; unknown members ignored)."""
    props = {}
    for p in properties(INPUT):
        schema = dict(p.input_schema or {})
        props[p.name] = schema if p.required else {"anyOf": [schema, {"type": "null"}]}
    return {"type": "object", "required": [p.name for p in properties(INPUT) if p.required],
            "properties": props, "description": "Unknown properties are ignored (warning properties_ignored)."}


def output_properties_schema(form: str) -> dict[str, Any]:
    """Return the JSON Schema of a Feature's ``properties`` as ``form`` (:data:`API` or
    :data:`EXPORT`) writes them: every property present, no other."""
    if form not in _READABLE:
        raise ValueError(f"{form!r} is not an output form")
    chosen = properties(form)
    optional = EXPORT_ADDED if form == EXPORT else ()
    return {"type": "object", "additionalProperties": False,
            "required": [p.name for p in chosen if p.name not in optional],
            "properties": {p.name: p.schema for p in chosen}}


def export_schema() -> dict[str, Any]:
    """Return the JSON Schema (2020-12) of the DWconnect export (``data/dwconnect-export.schema.json``
    is this document; a test keeps them equal)."""
    position = {"type": "array", "minItems": 2, "maxItems": 2,
                "prefixItems": [{"type": "number", "minimum": -180, "maximum": 180},
                                {"type": "number", "minimum": -90, "maximum": 90}]}
    line = {"type": "array", "minItems": 2, "items": {"$ref": "#/$defs/position"}}
    ring = {"type": "array", "minItems": 4, "items": {"$ref": "#/$defs/position"}}
    polygon = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/ring"}}

    def geometry(kind: str, coordinates: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": ["type", "coordinates"], "not": {"required": ["crs"]},
                "properties": {"type": {"const": kind}, "coordinates": coordinates}}

    feature = {
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "not": {"required": ["crs"]},
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": "string", "format": "uuid"},
            "geometry": {"oneOf": [
                geometry("Point", {"$ref": "#/$defs/position"}),
                geometry("LineString", line),
                geometry("Polygon", polygon),
                geometry("MultiPoint", {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/position"}}),
                geometry("MultiLineString", {"type": "array", "minItems": 1, "items": line}),
                geometry("MultiPolygon", {"type": "array", "minItems": 1, "items": polygon}),
            ]},
            "properties": output_properties_schema(EXPORT),
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"geosignal DWconnect export {SCHEMA_VERSION}",
        "description": "White-zone reports of Charleroi Métropole as an RFC 7946 FeatureCollection "
                       f"(EPSG:4326 [lon, lat], {EXPORT_COORDINATE_DECIMALS} decimals). See docs/dwconnect.md.",
        "type": "object",
        "required": ["type", "schema_version", "source", "generated_at", "next_since", "features",
                     "numberReturned", "excluded"],
        "not": {"required": ["crs"]},
        "properties": {
            "type": {"const": "FeatureCollection"},
            "schema_version": {"const": SCHEMA_VERSION},
            "source": {"const": SOURCE},
            "generated_at": _DATE_TIME,
            "next_since": {"type": "string", "pattern": "^seq:[0-9]+$",
                           "description": "Pass it as since= to get the changes after this export."},
            "export_run": {"type": "string", "format": "uuid"},
            "features": {"type": "array", "items": {"$ref": "#/$defs/feature"}},
            "numberReturned": {"type": "integer", "minimum": 0},
            "excluded": {"type": "array", "items": {
                "type": "object", "required": ["id", "reason"], "additionalProperties": False,
                "properties": {"id": {"type": "string", "format": "uuid"},
                               "reason": {"enum": list(EXCLUSION_REASONS)}}}},
            "next_cursor": {"type": "string", "description": "Present when another page follows."},
            "zones": {"type": "array", "items": {"$ref": "#/$defs/zone"},
                      "description": "Since 1.1.0: the confirmed zones holding at least one report the "
                                     "commune, bbox and period filters select, whatever the status filter "
                                     "(every report of the zone listed, exported or not); with since, those "
                                     "changed since or holding a report changed since; on the last page of a "
                                     "pass only (1.3.0). Upsert them by id."},
            "zones_removed": {"type": "array", "uniqueItems": True, "items": {"type": "integer", "minimum": 1},
                              "description": "Since 1.3.0: ids of the zones changed since the since= watermark "
                                             "that a full export would no longer carry whatever its commune, bbox "
                                             "and period: no longer confirmed (removed, regrouped into another "
                                             "zone, or proposed again), or none of whose reports is in a status "
                                             "the export counts any more; empty without since and on a page "
                                             "another follows. Delete them (an id you never received: ignore it)."},
        },
        "$defs": {"position": position, "ring": ring, "feature": feature, "zone": _zone_schema(geometry, line, polygon)},
    }


def _zone_schema(geometry: Callable[[str, dict[str, Any]], dict[str, Any]], line: dict[str, Any],
                 polygon: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of a confirmed zone in the export (schema 1.1.0): a Feature whose geometry is
    the union of its reports (a GeometryCollection when points or lines join zones)."""
    simple = [
        geometry("Point", {"$ref": "#/$defs/position"}),
        geometry("LineString", line),
        geometry("Polygon", polygon),
        geometry("MultiPoint", {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/position"}}),
        geometry("MultiLineString", {"type": "array", "minItems": 1, "items": line}),
        geometry("MultiPolygon", {"type": "array", "minItems": 1, "items": polygon}),
    ]
    collection = {"type": "object", "required": ["type", "geometries"], "not": {"required": ["crs"]},
                  "properties": {"type": {"const": "GeometryCollection"},
                                 "geometries": {"type": "array", "minItems": 1, "items": {"oneOf": simple}}}}
    vocab_list = {"type": "array", "uniqueItems": True, "items": {"type": "string"}}
    return {
        "type": "object", "required": ["type", "id", "geometry", "properties"], "not": {"required": ["crs"]},
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": "integer", "minimum": 1},
            "geometry": {"oneOf": [*simple, collection]},
            "properties": {
                "type": "object", "additionalProperties": False,
                "required": ["zone_id", "state", "network", "report_count", "report_ids", "technologies",
                             "operators", "commune_nis", "updated_at"],
                "properties": {
                    "zone_id": {"type": "integer", "minimum": 1},
                    "state": {"const": "confirmed"},
                    "network": {"enum": list(vocab.NETWORKS)},
                    "report_count": {"type": "integer", "minimum": 2,
                                     "description": "Reports of the same place (also reported by report_count - 1)."},
                    "report_ids": {"type": "array", "minItems": 2, "uniqueItems": True,
                                   "items": {"type": "string", "format": "uuid"}},
                    "technologies": {**vocab_list, "items": {"enum": list(vocab.TECHNOLOGIES)}},
                    "operators": {**vocab_list, "items": {"enum": list(vocab.OPERATORS)}},
                    "commune_nis": _NIS,
                    "updated_at": _DATE_TIME,
                },
            },
        },
    }


__all__ = [
    "API", "API_COORDINATE_DECIMALS", "BY_NAME", "COORDINATE_COLUMNS", "EXPORT", "EXPORT_COORDINATE_DECIMALS",
    "FORM", "FORMS", "FORM_CONTROLS", "GEOMETRY_KINDS", "INPUT", "MAX_COUNT", "MAX_DESCRIPTION_CHARS",
    "POPUP", "PROPERTIES", "Prop", "SCHEMA_VERSION", "SOURCE", "Source", "UPLOAD", "api_properties",
    "coordinate_aliases", "export_schema", "feature_joins_sql", "feature_properties_args_sql",
    "feature_properties_params", "feature_properties_sql", "form_fields", "format_datetime",
    "geometry_kind", "header_aliases", "input_properties_schema", "label", "names",
    "output_properties_schema", "popup_fields", "properties", "upload_fields", "value_aliases",
]
