"""French texts of the pages that are built in Python or sent to the pages' scripts, in one
place (the vocabulary's labels are :data:`geosignal.vocab.LABELS_FR`, the error codes'
titles :data:`geosignal.errors.TITLES_FR`). Flask-free.
"""

from __future__ import annotations

from typing import Any

from geosignal import contract
from geosignal.errors import TITLES_FR, GeosignalError

#: Error codes that concern the shape (shown next to the drawing and on the map).
GEOMETRY_CODES: frozenset[str] = frozenset({
    "non_finite_number", "invalid_coordinate", "invalid_geojson", "empty_geometry", "unsupported_geometry_type",
    "ring_not_closed", "ring_too_short", "line_too_short", "unsupported_crs", "self_intersection",
    "invalid_geometry", "outside_service_area", "area_too_small", "area_too_large", "too_many_vertices",
    "not_your_commune",
})

#: French labels of the intake's warnings (import preview, report saved with remarks).
WARNINGS_FR: dict[str, str] = {
    "z_dropped": "Altitude ignorée",
    "properties_ignored": "Colonnes inconnues ignorées",
    "geometry_collection_split": "Collection de formes découpée en plusieurs signalements",
    "probable_duplicate": "Doublon probable d'un signalement récent",
    "attribute_dropped": "Valeur ignorée",
    "geometry_repaired": "Forme réparée (toute la surface gardée)",
    "circle_to_polygon": "Cercle transformé en zone",
    "network_link_ignored": "Lien réseau KML non suivi",
    "nested_archive_ignored": "Archive dans l'archive non ouverte",
    "layers_read": "Plusieurs couches lues",
    "layer_without_geometry": "Couche sans géométrie ignorée",
    "kml_members_ignored": "Éléments KML ignorés",
    "empty_feature_skipped": "Élément vide ignoré",
}

#: Messages of the representative's map script (static/js/report-map.js), by key.
MAP_MESSAGES: dict[str, str] = {
    "none": "Aucune forme dessinée.",
    "drawn": "Forme dessinée : {kind}.",
    "area": "Surface : {m2} m² ({ha} ha)",
    "length": "Longueur : {m} m",
    "vertices": "{n} sommets",
    "too_small": "Zone trop petite ({m2} m²) : dessinez au moins {min} m², ou placez un point.",
    "too_large": "Zone trop grande ({km2} km²) : le maximum est {max} km².",
    "too_many_vertices": "Trop de sommets ({n}) : le maximum est {max}.",
    "outside": "La forme sort de la commune de {commune} : elle sera refusée si elle se trouve surtout ailleurs.",
    "mostly_outside": "La forme se trouve surtout hors de la commune de {commune} : elle sera refusée.",
    "draw_first": "Indiquez d'abord le lieu : dessinez sur la carte, saisissez des coordonnées, votre position ou une adresse.",
    "sending": "Envoi…",
    "placed": "Point placé : {lat} N, {lon} E ({how}){commune}.",
    "placed_circle": "Zone de {r} m de rayon autour de {lat} N, {lon} E ({how}){commune}.",
    "in_commune": " — {commune}",
    "read_as": {"lat_lon": "lu latitude puis longitude", "lon_lat": "lu longitude puis latitude",
                "x_y": "lu x puis y", "y_x": "lu y puis x"},
    "notation": {"decimal": "degrés décimaux WGS 84", "dms": "degrés, minutes, secondes",
                 "lambert72": "Lambert belge 72", "lambert2008": "Lambert belge 2008"},
    "choose_reading": "Lequel de ces lieux voulez-vous dire ?",
    "geolocating": "Recherche de votre position…",
    "geolocation_denied": "Votre position n'a pas pu être obtenue ({reason}). Saisissez des coordonnées ou une adresse.",
    "geolocation_unsupported": "Ce navigateur ne donne pas la position.",
    "position_accuracy": "votre position, précision {r} m",
    "searching": "Recherche de l'adresse…",
    "no_result": "Aucune adresse trouvée dans les communes desservies.",
    "results": "{n} adresse(s) trouvée(s) : choisissez-en une.",
    "outside_territory": "hors des communes desservies",
    "address": "adresse",
    "error": "Erreur : {detail}",
    "next": "Décrire la zone blanche",
    "back": "Revenir à la carte",
    "kinds": {"marker": "un point", "polyline": "un tronçon", "polygon": "une zone", "rectangle": "une zone",
              "circle": "un cercle", "position": "un point"},
}

#: French labels of the published survey indicators (services/survey.py's names).
SURVEY_INDICATORS_FR: dict[str, str] = {
    "smart_score": "Score smart moyen (auto-évaluation)",
    "citizens_informed": "Citoyens informés (moyenne)",
    "priority_quality_of_life": "Priorité : qualité de vie",
    "priority_citizens": "Priorité : citoyens",
    "priority_environment_energy": "Priorité : environnement et énergie",
    "priority_mobility": "Priorité : mobilité",
    "priority_governance": "Priorité : gouvernance",
    "priority_economy": "Priorité : économie",
    "intends_to_answer_call": "Comptent répondre au prochain appel à projets",
    "citizens_involved": "Impliquent les citoyens",
    "public_procurement_done": "Ont passé un marché public smart",
    "central_purchasing_strongly": "Centrale d'achat : fortement intéressées",
    "central_purchasing_yes_not_priority": "Centrale d'achat : oui, mais pas en priorité",
    "cyber_not_ready": "Ne se disent pas armées face aux cyberrisques",
    "smart_actions_in_pst": "Actions smart dans le PST",
}


def _m2(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


def error_message(error: GeosignalError) -> str:
    """Return what a person reads for a refused report: the code's French title, with the
    figures the error carries (areas in m², vertices) when it has them."""
    extra: dict[str, Any] = error.extra
    if error.code == "area_too_small" and "area_m2" in extra and "limit_m2" in extra:
        return (f"Zone trop petite ({_m2(extra['area_m2'])} m²) : dessinez au moins {_m2(extra['limit_m2'])} m², "
                "ou placez un point.")
    if error.code == "area_too_large" and "area_m2" in extra and "limit_m2" in extra:
        return (f"Zone trop grande ({extra['area_m2'] / 1e6:,.1f} km²) : le maximum est "
                f"{extra['limit_m2'] / 1e6:,.0f} km².").replace(",", "\u202f").replace(".", ",")
    if error.code == "too_many_vertices" and "value" in extra and "limit" in extra:
        return f"Trop de sommets ({extra['value']}) : le maximum est {extra['limit']}. Simplifiez la forme."
    if error.code == "self_intersection":
        return "Le contour de la zone se croise lui-même (voir le repère sur la carte) : redessinez-le, ou cochez la réparation."
    if error.code == "not_your_commune":
        return "La forme se trouve surtout dans une autre commune que la vôtre : dessinez-la dans votre commune."
    if error.code == "outside_service_area":
        return "Ce lieu ne se trouve dans aucune commune desservie : vérifiez la position ou les coordonnées."
    return TITLES_FR.get(error.code, error.title)


def field_of(error: GeosignalError) -> str:
    """Return the form field an error concerns: ``geometry`` (the shape), ``coordinates``,
    a report property's name (from its JSON pointer ``/properties/<name>…``), or ``form``."""
    if error.where == "coordinates":
        return "coordinates"
    if error.code in GEOMETRY_CODES:
        return "geometry"
    pointer = error.where or ""
    if pointer.startswith("/properties/"):
        return pointer.split("/")[2]
    return "form"


def field_errors(error: GeosignalError) -> dict[str, list[str]]:
    """Return the French messages of a refused report, by the field they concern (see
    :func:`field_of`); every fault listed in ``errors`` (attributes refused together) too."""
    out: dict[str, list[str]] = {field_of(error): [error_message(error)]}
    for item in error.extra.get("errors", [])[1:]:
        pointer = item.get("pointer") or ""
        name = item.get("name") or (pointer.split("/")[2] if pointer.startswith("/properties/") else "form")
        out.setdefault(name, []).append(TITLES_FR.get(item.get("code", ""), item.get("detail", "")))
    return out


def preview_columns() -> list[dict[str, str]]:
    """Return the columns of the import preview: the report properties a file may give, with
    their French labels and kinds, ``[{name, label, kind}]`` in contract order (the radius is
    shown as the shape it made)."""
    return [{"name": p.name, "label": p.label, "kind": p.kind}
            for p in contract.properties(contract.UPLOAD) if p.name != "radius"]
