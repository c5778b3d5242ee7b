"""One error vocabulary for geosignal.

Services raise :class:`GeosignalError` subclasses carrying an HTTP status, a stable
machine-readable ``code`` and a message for people. The web layer turns them into
``application/problem+json`` (RFC 9457) under ``/api`` and into pages elsewhere; the CLI
prints the message and exits non-zero. Every code is listed in :data:`ERROR_CODES`.
"""

from __future__ import annotations

from typing import Any

#: Every error code geosignal emits, with its HTTP status and a one-line meaning.
#: The README's error catalogue is generated from this table.
ERROR_CODES: dict[str, tuple[int, str]] = {
    # request shape
    "invalid_json": (400, "The body is not valid JSON."),
    "invalid_request": (400, "A parameter or field is missing or has the wrong type."),
    "unsupported_media_type": (415, "The body's content type is not accepted here."),
    "payload_too_large": (413, "The upload exceeds the configured maximum size."),
    # raw GeoJSON
    "non_finite_number": (422, "NaN or Infinity where a number is expected."),
    "invalid_coordinate": (422, "A position is not an array of 2 or 3 finite numbers."),
    "invalid_geojson": (422, "The GeoJSON object is malformed (type, nesting, members)."),
    "empty_geometry": (422, "The geometry is null or has no coordinates."),
    "unsupported_geometry_type": (422, "The geometry type cannot be a report."),
    "ring_not_closed": (422, "A polygon ring's last position differs from its first."),
    "ring_too_short": (422, "A polygon ring has fewer than 4 positions."),
    "line_too_short": (422, "A line has fewer than 2 distinct positions."),
    "unsupported_crs": (422, "The coordinate reference system is not one geosignal accepts."),
    # validity and limits
    "self_intersection": (422, "A ring crosses itself or another ring."),
    "invalid_geometry": (422, "The geometry is not valid (reason and location given)."),
    "outside_service_area": (422, "The geometry does not fall within the communes served."),
    "area_too_small": (422, "The zone is smaller than the minimum area."),
    "area_too_large": (422, "The zone is larger than the maximum area."),
    "too_many_vertices": (422, "The geometry has more vertices than allowed."),
    # attributes
    "invalid_attribute": (422, "A report property has a value outside its vocabulary or range."),
    "invalid_datetime": (422, "A date or time cannot be read."),
    "ambiguous_local_time": (422, "A local time without offset is ambiguous or does not exist."),
    # files
    "unreadable_file": (422, "The uploaded file cannot be read in the declared format."),
    "unsupported_format": (415, "The uploaded file's format is not supported."),
    "no_features": (422, "The upload contains no usable feature."),
    "import_rejected": (422, "Some features of the upload were refused; nothing was saved."),
    "unsafe_archive": (422, "An archive member's name is absolute, climbs out (..), is a link or repeats."),
    "archive_too_large": (413, "The archive inflates to too many bytes or holds too many entries."),
    "unsafe_xml": (422, "The XML declares a DOCTYPE or entities; it is refused before it is read."),
    "undecidable_encoding": (422, "The text encoding of the file cannot be decided (no .cpg, no LDID)."),
    # access
    "unauthorized": (401, "Authentication is required."),
    "forbidden": (403, "You may not do this (role or commune)."),
    "not_your_commune": (403, "The zone lies mainly in a commune you do not represent."),
    "csrf_failed": (400, "The form's CSRF token is missing or wrong."),
    "weak_password": (422, "The password is too short or too easy to guess."),
    "wrong_password": (422, "The current password is not the right one."),
    "copy_purged": (410, "The stored copy was deleted under the retention rule; its record is kept."),
    "invalid_link": (410, "The single-use link expired, was used, or never existed."),
    "rate_limited": (429, "Too many attempts or writes; wait for the time Retry-After gives."),
    # resources
    "not_found": (404, "No such resource."),
    "method_not_allowed": (405, "The method is not allowed on this resource."),
    "conflict": (409, "The request conflicts with the current state."),
    "invalid_transition": (409, "The report's current status does not allow this transition."),
    "reason_required": (422, "This transition needs a text: reason, question, answer or note."),
    "not_editable": (409, "The report can no longer be edited in its current status."),
    "precondition_failed": (412, "If-Match does not match the report's current ETag: it changed meanwhile."),
    "precondition_required": (428, "This change requires an If-Match header with the report's ETag."),
    "idempotency_key_reused": (422, "This Idempotency-Key was used with a different body."),
    "unknown_commune": (422, "No commune with this NIS code is loaded."),
    "internal_error": (500, "An unexpected error; it has been logged."),
    "service_unavailable": (503, "The database is unreachable for now; retry after Retry-After seconds."),
    # tabular imports (survey exports)
    "missing_column": (422, "A column the import mapping requires is missing or repeated."),
    "duplicate_row": (422, "Two rows describe the same item (e.g. a commune answers twice)."),
    "no_rows": (422, "The uploaded table has no data row."),
    # CSV structure (the whole file is refused, naming row and column)
    "duplicate_header": (422, "A CSV header names the same column twice."),
    "unterminated_quote": (422, "A quoted CSV field is never closed."),
    "field_too_long": (422, "A CSV field is longer than allowed."),
    # typed positions and address search (report without the map)
    "unreadable_coordinates": (422, "The coordinates typed cannot be read as WGS 84, DMS or Belgian Lambert."),
    "ambiguous_coordinates": (422, "The two numbers fit the territory in both orders; say which is which."),
    "geocoder_unavailable": (503, "The address search service is off or did not answer."),
}


#: What each code means, in French, for the pages (the API's ``detail`` stays as raised).
TITLES_FR: dict[str, str] = {
    "invalid_json": "Le contenu n'est pas du JSON valide.",
    "invalid_request": "Un paramètre ou un champ manque ou a un mauvais type.",
    "unsupported_media_type": "Ce type de contenu n'est pas accepté ici.",
    "payload_too_large": "Le fichier dépasse la taille maximale.",
    "non_finite_number": "Un nombre vaut NaN ou l'infini.",
    "invalid_coordinate": "Une position n'est pas formée de 2 ou 3 nombres.",
    "invalid_geojson": "L'objet GeoJSON est mal formé.",
    "empty_geometry": "La géométrie est vide.",
    "unsupported_geometry_type": "Ce type de géométrie ne peut pas être un signalement.",
    "ring_not_closed": "Un contour de zone n'est pas fermé.",
    "ring_too_short": "Un contour de zone a moins de 4 positions.",
    "line_too_short": "Un tronçon a moins de 2 positions distinctes.",
    "unsupported_crs": "Ce système de coordonnées n'est pas accepté.",
    "self_intersection": "Le contour de la zone se croise lui-même.",
    "invalid_geometry": "La géométrie n'est pas valide.",
    "outside_service_area": "La forme ne se trouve pas dans les communes desservies.",
    "area_too_small": "La zone est plus petite que la surface minimale.",
    "area_too_large": "La zone est plus grande que la surface maximale.",
    "too_many_vertices": "La forme a trop de sommets.",
    "invalid_attribute": "Une valeur n'est pas admise pour ce champ.",
    "invalid_datetime": "Une date ou une heure ne peut pas être lue.",
    "ambiguous_local_time": "Cette heure locale est ambiguë ou n'existe pas (changement d'heure).",
    "unreadable_file": "Le fichier ne peut pas être lu dans ce format.",
    "unsupported_format": "Ce format de fichier n'est pas pris en charge.",
    "no_features": "Le fichier ne contient aucun élément utilisable.",
    "import_rejected": "Des éléments du fichier ont été refusés : rien n'a été enregistré.",
    "unsafe_archive": "L'archive contient un chemin absolu, remontant (..), un lien ou un doublon.",
    "archive_too_large": "L'archive décompressée est trop volumineuse ou contient trop de fichiers.",
    "unsafe_xml": "Le XML déclare un DOCTYPE ou des entités : il est refusé.",
    "undecidable_encoding": "L'encodage des textes du fichier ne peut pas être déterminé.",
    "unauthorized": "Connexion requise.",
    "forbidden": "Vous n'avez pas accès à cette action.",
    "not_your_commune": "La forme se trouve surtout dans une commune que vous ne représentez pas.",
    "csrf_failed": "Le formulaire a expiré : rechargez la page.",
    "rate_limited": "Trop de tentatives",
    "weak_password": "Mot de passe refusé",
    "wrong_password": "Mot de passe actuel incorrect",
    "invalid_link": "Lien expiré ou déjà utilisé",
    "copy_purged": "Copie supprimée (durée de conservation dépassée)",
    "service_unavailable": "Service momentanément indisponible",
    "not_found": "Introuvable.",
    "method_not_allowed": "Méthode non permise.",
    "conflict": "La demande entre en conflit avec l'état actuel.",
    "invalid_transition": "Le statut actuel du signalement ne permet pas cette action.",
    "reason_required": "Cette action demande un texte : motif, question, réponse ou note.",
    "not_editable": "Le signalement ne peut plus être modifié dans son statut actuel.",
    "precondition_failed": "Le signalement a été modifié entre-temps par quelqu'un d'autre.",
    "precondition_required": "Cette modification doit indiquer la version du signalement (If-Match).",
    "idempotency_key_reused": "Cette clé d'idempotence a déjà servi pour un autre contenu.",
    "unknown_commune": "Aucune commune chargée n'a ce code INS.",
    "internal_error": "Erreur inattendue ; elle a été consignée.",
    "missing_column": "Une colonne attendue manque ou est répétée.",
    "duplicate_row": "Deux lignes décrivent le même élément.",
    "no_rows": "Le tableau ne contient aucune ligne de données.",
    "duplicate_header": "L'en-tête du fichier CSV nomme deux fois la même colonne.",
    "unterminated_quote": "Un guillemet ouvert dans le fichier CSV n'est jamais fermé.",
    "field_too_long": "Un champ du fichier CSV est trop long.",
    "unreadable_coordinates": "Coordonnées illisibles : donnez deux nombres (WGS 84, degrés-minutes-secondes ou Lambert belge).",
    "ambiguous_coordinates": "Ces coordonnées se lisent dans les deux ordres : précisez lequel est la latitude (ou x).",
    "geocoder_unavailable": "La recherche d'adresse ne répond pas : saisissez des coordonnées ou dessinez sur la carte.",
}


class GeosignalError(Exception):
    """An error with an HTTP status, a stable ``code`` and a message for people.

    ``where`` locates the fault in the input: a JSON pointer (``/geometry/coordinates/0/3``),
    a feature index or a CSV row. ``extra`` holds further machine-readable members
    (for example ``{"area_m2": 1.2e9, "limit_m2": 2e8}``).
    """

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        where: str | None = None,
        status: int | None = None,
        **extra: Any,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        default_status, title = ERROR_CODES[code]
        self.code = code
        self.status = status or default_status
        self.title = title
        self.title_fr = TITLES_FR.get(code, title)
        self.detail = detail or title
        self.where = where
        self.extra = extra
        super().__init__(f"{code}: {self.detail}" + (f" (at {where})" if where else ""))

    def to_problem(self) -> dict[str, Any]:
        """Return the RFC 9457 problem document (``type``, ``title``, ``status``, ``detail``,
        ``code`` and, where known, ``where`` plus the extra members)."""
        doc: dict[str, Any] = {
            "type": f"urn:geosignal:error:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.where is not None:
            doc["where"] = self.where
        doc.update(self.extra)
        return doc
