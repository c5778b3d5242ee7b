"""The domain's vocabularies, named once and reused by models, forms, API, exports and tests.

Each vocabulary is a tuple of stable machine values (stored in PostGIS, sent in the API and
in exports) and a mapping to the French labels shown to people.
"""

from __future__ import annotations

#: Coordinate reference systems, by EPSG code: geometries are stored in WGS 84; areas and
#: lengths are computed in Belgian Lambert 72; Belgian Lambert 2008 is accepted as input.
WGS84 = 4326
LAMBERT72 = 31370
LAMBERT2008 = 3812

#: Kind of network a white zone concerns.
NETWORKS: tuple[str, ...] = ("mobile", "fixed")

#: Technologies, mobile then fixed.
MOBILE_TECHNOLOGIES: tuple[str, ...] = ("2G", "3G", "4G", "5G")
FIXED_TECHNOLOGIES: tuple[str, ...] = ("DSL", "cable", "fibre", "FWA", "satellite")
TECHNOLOGIES: tuple[str, ...] = MOBILE_TECHNOLOGIES + FIXED_TECHNOLOGIES
#: The technologies of each network (a fixed line is not 4G, a mobile network is not fibre): the
#: one rule intake warns by (``technology_not_of_network``) and the report form checks as it is
#: filled (given to the page as data, never written again in a script).
NETWORK_TECHNOLOGIES: dict[str, tuple[str, ...]] = {"mobile": MOBILE_TECHNOLOGIES, "fixed": FIXED_TECHNOLOGIES}
assert set(NETWORK_TECHNOLOGIES) == set(NETWORKS)

#: Operators active in Wallonia; ``other`` for anything else.
OPERATORS: tuple[str, ...] = ("Proximus", "Orange", "Telenet/BASE", "DIGI", "VOO", "other")

#: What is wrong at the place.
ISSUES: tuple[str, ...] = ("no_coverage", "weak_signal", "no_data", "slow_speed", "intermittent")

#: Where the problem was observed.
SETTINGS: tuple[str, ...] = ("outdoor", "indoor", "vehicle")

#: Life cycle of a report, in workflow order. Who moves a report from one status to another,
#: and with what text, is declared once in :data:`geosignal.workflow.TRANSITIONS`.
STATUSES: tuple[str, ...] = (
    "draft", "submitted", "needs_info", "validated", "transmitted",
    "resolved", "not_resolved", "rejected", "withdrawn",
)

#: Whether a status is ``open`` (the report still moves: work is expected from somebody) or
#: ``closed`` (an end of the workflow).
STATUS_TYPES: dict[str, str] = {
    "draft": "open",
    "submitted": "open",
    "needs_info": "open",
    "validated": "open",
    "transmitted": "open",
    "resolved": "closed",
    "not_resolved": "closed",
    "rejected": "closed",
    "withdrawn": "closed",
}
assert set(STATUS_TYPES) == set(STATUSES) and set(STATUS_TYPES.values()) <= {"open", "closed"}

#: Roles of a user. A representative has exactly one commune.
ROLES: tuple[str, ...] = ("representative", "referent", "admin")
#: Languages geosignal speaks (pages, e-mails, a user's choice); the first is the default and
#: the source language of the texts.
LANGUAGES: tuple[str, ...] = ("fr", "nl", "en")

#: Geometry types a report may have (2D, EPSG:4326).
GEOMETRY_TYPES: tuple[str, ...] = (
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
)

LABELS_FR: dict[str, str] = {
    "mobile": "Mobile",
    "fixed": "Fixe",
    "DSL": "DSL (cuivre)",
    "cable": "Câble",
    "fibre": "Fibre",
    "FWA": "Accès fixe sans fil (FWA)",
    "satellite": "Satellite",
    "other": "Autre",
    "no_coverage": "Aucune couverture",
    "weak_signal": "Signal faible",
    "no_data": "Pas de données mobiles",
    "slow_speed": "Débit insuffisant",
    "intermittent": "Connexion intermittente",
    "outdoor": "Extérieur",
    "indoor": "Intérieur",
    "vehicle": "En véhicule",
    "draft": "Brouillon",
    "submitted": "Soumis",
    "needs_info": "Question posée",
    "validated": "Validé",
    "transmitted": "Transmis à DWconnect",
    "resolved": "Résolu",
    "not_resolved": "Non résolu",
    "rejected": "Rejeté",
    "withdrawn": "Retiré",
    "Point": "Point",
    "LineString": "Tronçon",
    "Polygon": "Zone",
    "MultiPoint": "Points",
    "MultiLineString": "Tronçons",
    "MultiPolygon": "Zones",
    "representative": "Représentant·e communal·e",
    "referent": "Référent·e Smart Region",
    "admin": "Administrateur·rice",
}


#: Colour of each status on maps, lists and badges (white text on it reads at ≥ 4.5:1).
STATUS_COLOURS: dict[str, str] = {
    "draft": "#455a64",
    "submitted": "#8a5300",
    "needs_info": "#6a3d9a",
    "validated": "#1e7b34",
    "transmitted": "#1f5fa8",
    "resolved": "#00695c",
    "not_resolved": "#8e2a5e",
    "rejected": "#a50f15",
    "withdrawn": "#5f6368",
}
assert set(STATUS_COLOURS) == set(STATUSES)


def label(value: str) -> str:
    """Return the French label of a vocabulary value (the value itself when it has none)."""
    return LABELS_FR.get(value, value)


def sql_in_list(values: tuple[str, ...]) -> str:
    """Return ``'a', 'b'`` for a CHECK constraint over ``values`` (they contain no quote)."""
    assert all("'" not in v for v in values)
    return ", ".join(f"'{v}'" for v in values)
