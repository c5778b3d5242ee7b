"""One error vocabulary for geosignal.

Services raise :class:`GeosignalError` subclasses carrying an HTTP status, a stable
machine-readable ``code`` and a message for people. The web layer turns them into
``application/problem+json`` (RFC 9457) under ``/api`` and into pages elsewhere; the CLI
prints the message and exits non-zero. Every code is listed in :data:`ERROR_CODES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: PostgreSQL's answers to a write that met another at the same moment (deadlock_detected,
#: serialization_failure): its transaction was rolled back, nothing of it stays, and running it
#: again may succeed.
WRITE_CONFLICTS = frozenset({"40P01", "40001"})


def is_write_conflict(error: BaseException) -> bool:
    """Whether ``error`` (SQLAlchemy's, or psycopg's from a raw cursor: a save's COPY and
    INSERTs) is PostgreSQL rolling the transaction back for another write at the same moment
    (:data:`WRITE_CONFLICTS`)."""
    return getattr(getattr(error, "orig", error), "sqlstate", None) in WRITE_CONFLICTS

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
    "invalid_coordinate": (422, "A position is not 2 or more numbers (GeoJSON: a third and further are Z, M, dropped with z_dropped; KML: at most 3)."),
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
    "too_many_features": (413, "The upload holds more features (rows, placemarks, records) than allowed."),
    "too_many_upload_vertices": (413, "The upload's geometries hold more vertices in all than allowed."),
    # attributes
    "invalid_attribute": (422, "A report property has a value outside its vocabulary or range."),
    "invalid_datetime": (422, "A date or time cannot be read."),
    "ambiguous_local_time": (422, "A local time without offset is ambiguous or does not exist."),
    # files
    "unreadable_file": (422, "The uploaded file cannot be read in the declared format."),
    "unsupported_format": (415, "The uploaded file's format is not supported."),
    "no_features": (422, "The upload contains no usable feature."),
    "import_rejected": (422, "Some features of the upload were refused; nothing was saved."),
    "collection_member_refused": (422, "Another member of the same feature's collection is refused: a collection is "
                                       "stored whole or not at all."),
    "unsafe_archive": (422, "An archive member's name is absolute, climbs out (..), is a link or repeats."),
    "archive_too_large": (413, "The archive inflates to too many bytes or holds too many entries."),
    "unsafe_xml": (422, "The XML declares a DOCTYPE or entities; it is refused before it is read."),
    "unsafe_geopackage": (422, "The GeoPackage holds SQL that would run as it is read (a view, a virtual table, a "
                               "column computed on read) or registers a layer that is no table; it is refused before "
                               "it is read."),
    "undecidable_encoding": (422, "The text encoding of the file cannot be decided (a dBase without .cpg or LDID, "
                                  "a CSV neither UTF-8 nor Windows-1252 such as Mac Roman), or the one declared "
                                  "turns the text into mojibake."),
    # access
    "unauthorized": (401, "Authentication is required."),
    "forbidden": (403, "You may not do this (role or commune)."),
    "password_change_required": (403, "The account still has its one-time password: sign in once and choose one; "
                                      "its API tokens work from then on."),
    "not_your_commune": (403, "The report (point, line or zone) lies mainly in a commune you do not represent."),
    "csrf_failed": (400, "The form's CSRF token is missing or wrong."),
    "weak_password": (422, "The password is too short or too easy to guess."),
    "wrong_password": (422, "The current password is not the right one."),
    "copy_purged": (410, "The stored copy was deleted under the retention rule; its record is kept."),
    "invalid_link": (410, "The single-use link expired, was used, or never existed."),
    "invalid_unsubscribe_link": (404, "The unsubscribe link is not one geosignal made for an active account (cut, "
                                      "mistyped, or the account's address changed since)."),
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
    "malformed_quote": (422, "A quoted CSV field has text after its closing quote."),
    "field_too_long": (422, "A CSV field is longer than allowed."),
    # typed positions and address search (report without the map)
    "unreadable_coordinates": (422, "The coordinates typed cannot be read as WGS 84, DMS or Belgian Lambert."),
    "ambiguous_coordinates": (422, "The two numbers fit the territory in both orders; say which is which."),
    "geocoder_unavailable": (503, "The address search service is off or did not answer."),
    "communes_changed": (409, "The communes were loaded again while the file was read; save it again."),
    # zones of overlapping reports
    "zone_changed": (409, "The zone's reports changed since it was read; read it again."),
    "invalid_split": (422, "A split must take out some of the zone's own reports, not none nor all."),
    "zone_would_grow": (409, "The decision would put in the zone reports it does not name (free reports touching "
                             "reports kept apart by a split); nothing was decided."),
    "invalid_join": (422, "Two different zones of one network are joined, or a zone and a report of its network "
                          "that is in no zone and counted by the figures; not a zone with itself nor another "
                          "network's."),
    # evidence (speed tests and photos)
    "photo_too_large": (413, "The photo is larger than 5 MB."),
    "unsupported_image": (415, "The photo is not a JPEG or PNG image (read from its content, not its name)."),
    "invalid_image": (422, "The image is damaged or truncated and cannot be decoded."),
    "decompression_bomb": (422, "The image declares more pixels than allowed (refused before decoding)."),
    "evidence_limit": (422, "The report already holds the most photos or speed tests allowed."),
}


#: What each code means for a person and what to do, in French (the source language of the
#: catalogues: each text is a msgid, translated in ``geosignal/translations``). Shown on the
#: pages (``geosignal.ui_text.error_message``) and in the API's ``message`` member; the API's
#: ``title`` and ``detail`` stay as above and as raised.
TITLES_FR: dict[str, str] = {
    "invalid_json": "Le contenu envoyé n'est pas du JSON valide : vérifiez les guillemets et les virgules, puis renvoyez-le.",
    "invalid_request": "Un champ manque ou sa valeur n'a pas le bon type : corrigez le champ indiqué.",
    "unsupported_media_type": "Ce type de contenu n'est pas accepté ici : envoyez du JSON ou le formulaire de la page.",
    "payload_too_large": "Le fichier est trop volumineux : réduisez-le ou découpez-le en plusieurs fichiers.",
    "non_finite_number": "Une coordonnée vaut NaN ou l'infini : donnez des nombres.",
    "invalid_coordinate": "Une position n'est pas formée de 2 ou 3 nombres : corrigez-la.",
    "invalid_geojson": "L'objet GeoJSON est mal formé : vérifiez son type et ses membres.",
    "empty_geometry": "Aucune forme : dessinez un point, un tronçon ou une zone, ou saisissez des coordonnées.",
    "unsupported_geometry_type": "Ce type de forme ne peut pas être un signalement : utilisez un point, un tronçon ou une zone.",
    "ring_not_closed": "Le contour de la zone n'est pas fermé : terminez-le sur son premier point.",
    "ring_too_short": "Le contour de la zone a trop peu de points : placez-en au moins trois.",
    "line_too_short": "Le tronçon a moins de deux points distincts : prolongez-le.",
    "unsupported_crs": "Ce système de coordonnées n'est pas accepté : utilisez WGS 84 ou le Lambert belge 72 ou 2008.",
    "self_intersection": "Le contour de la zone se croise lui-même (voir le repère sur la carte) : redessinez-le, ou cochez la correction automatique.",
    "invalid_geometry": "La forme n'est pas valide : redessinez-la, ou cochez la correction automatique.",
    "outside_service_area": "Ce lieu ne se trouve dans aucune commune desservie : vérifiez la position ou les coordonnées.",
    "area_too_small": "Zone trop petite : dessinez une zone plus grande, ou placez un point.",
    "area_too_large": "Zone trop grande : découpez-la en plusieurs signalements.",
    "too_many_vertices": "La forme a trop de sommets : simplifiez-la.",
    "too_many_features": "Le fichier contient trop d'éléments (lignes, repères, enregistrements) : découpez-le en plusieurs fichiers.",
    "too_many_upload_vertices": "Les formes du fichier ont trop de sommets au total : découpez-le en plusieurs fichiers, ou simplifiez ses formes.",
    "invalid_attribute": "Valeur non admise pour ce champ : choisissez une valeur proposée, ou un nombre entier positif.",
    "invalid_datetime": "Date ou heure illisible : écrivez-la comme 31/03/2024 ou 2024-03-31, suivie si besoin de l'heure (31/03/2024 14:30).",
    "ambiguous_local_time": "Cette heure locale est ambiguë ou n'existe pas (changement d'heure) : choisissez une autre heure ou précisez le décalage (+01:00).",
    "unreadable_file": "Le fichier ne peut pas être lu : il est peut-être endommagé, incomplet ou d'un autre type que ce que son nom indique. Ouvrez-le dans le logiciel qui l'a créé, enregistrez-le à nouveau, puis renvoyez-le.",
    "unsupported_format": "Ce format de fichier n'est pas pris en charge : envoyez du GeoJSON, KML/KMZ, GPX, CSV, GeoPackage ou un Shapefile zippé.",
    "no_features": "Le fichier ne contient aucun point, tronçon ou zone utilisable : vérifiez son contenu.",
    "import_rejected": "Des éléments du fichier ont été refusés et rien n'a été enregistré : corrigez-les, ou enregistrez seulement les éléments acceptés.",
    "collection_member_refused": "Une autre forme du même élément (une collection de formes) est refusée : corrigez-la, car un élément est enregistré en entier ou pas du tout.",
    "unsafe_archive": "L'archive contient un chemin absolu, remontant (..), un lien ou un doublon : recréez-la avec des fichiers simples.",
    "archive_too_large": "L'archive décompressée est trop volumineuse ou contient trop de fichiers : envoyez-en une plus petite.",
    "unsafe_xml": "Le XML déclare un DOCTYPE ou des entités et a été refusé : exportez-le à nouveau sans ces déclarations.",
    "unsafe_geopackage": "Le GeoPackage contient du SQL qui s'exécuterait à la lecture (une vue, une table virtuelle, une colonne calculée) et a été refusé : exportez ses couches à nouveau en tables simples.",
    "undecidable_encoding": "L'encodage des textes du fichier ne peut pas être déterminé : ajoutez le fichier .cpg ou enregistrez-le en UTF-8.",
    "unauthorized": "Connexion requise : connectez-vous pour continuer.",
    "forbidden": "Cette action est réservée à un autre rôle ou à une autre commune : revenez à vos pages.",
    "password_change_required": "Ce compte a encore son mot de passe à usage unique : connectez-vous une fois et choisissez-en un ; ses jetons API fonctionneront ensuite.",
    "not_your_commune": "La forme se trouve surtout dans une autre commune que la vôtre : dessinez-la dans votre commune.",
    "csrf_failed": "Le formulaire a expiré : rechargez la page et recommencez.",
    "rate_limited": "Trop de tentatives : attendez quelques minutes avant de réessayer.",
    "weak_password": "Mot de passe trop faible : choisissez-en un d'au moins 12 caractères, sans lien avec vous (une phrase de quatre mots convient).",
    "wrong_password": "Le mot de passe actuel est incorrect : retapez-le.",
    "invalid_link": "Ce lien a expiré ou a déjà servi : demandez-en un nouveau.",
    "invalid_unsubscribe_link": "Ce lien de désabonnement n'est pas valide (incomplet, ou l'adresse du compte a changé depuis) : connectez-vous et choisissez vos e-mails sur la page E-mails de votre compte.",
    "copy_purged": "Cette copie a été supprimée (durée de conservation dépassée) : lancez un nouvel export.",
    "service_unavailable": "Service momentanément indisponible : réessayez dans quelques secondes.",
    "not_found": "Page ou élément introuvable : vérifiez l'adresse, ou revenez à l'accueil.",
    "method_not_allowed": "Cette action n'est pas possible ici : revenez à la page précédente.",
    "conflict": "La demande entre en conflit avec l'état actuel : rechargez la page et recommencez.",
    "idempotency_key_reused": "Cette clé d'idempotence a déjà servi pour un autre contenu : utilisez-en une nouvelle.",
    "unknown_commune": "Aucune commune chargée n'a ce code INS : vérifiez le code.",
    "internal_error": "Erreur inattendue ; elle a été consignée. Réessayez plus tard.",
    "missing_column": "Une colonne attendue manque ou est répétée : vérifiez les en-têtes du tableau.",
    "duplicate_row": "Deux lignes décrivent le même élément : n'en gardez qu'une.",
    "no_rows": "Le tableau ne contient aucune ligne de données : vérifiez le fichier.",
    "duplicate_header": "L'en-tête du fichier CSV nomme deux fois la même colonne : renommez ou supprimez l'une d'elles.",
    "unterminated_quote": "Un guillemet ouvert dans le fichier CSV n'est jamais fermé : corrigez la ligne indiquée.",
    "malformed_quote": "Un champ entre guillemets du fichier CSV est suivi de texte après le guillemet fermant : doublez les guillemets à l'intérieur du champ, ou mettez tout le champ entre guillemets.",
    "field_too_long": "Un champ du fichier CSV est trop long : raccourcissez-le.",
    "invalid_transition": "Le statut actuel du signalement ne permet pas cette action : rechargez la page pour voir son état.",
    "reason_required": "Cette action demande un texte : écrivez le motif, la question, la réponse ou la note.",
    "not_editable": "Le signalement ne peut plus être modifié dans son statut actuel.",
    "precondition_failed": "Le signalement a été modifié entre-temps par quelqu'un d'autre : rechargez-le, puis refaites votre modification.",
    "precondition_required": "Cette modification doit indiquer la version du signalement (en-tête If-Match) : relisez-le d'abord.",
    "unreadable_coordinates": "Coordonnées illisibles : donnez deux nombres (WGS 84, degrés-minutes-secondes ou Lambert belge).",
    "ambiguous_coordinates": "Ces coordonnées se lisent dans les deux ordres : précisez lequel est la latitude (ou x).",
    "geocoder_unavailable": "La recherche d'adresse ne répond pas : saisissez des coordonnées ou dessinez sur la carte.",
    "communes_changed": "Les communes ont été rechargées pendant la lecture de votre fichier : enregistrez-le à nouveau.",
    "zone_changed": "La zone a changé depuis votre lecture : rechargez-la.",
    "invalid_split": "Choisissez une partie des signalements de la zone à en retirer (ni aucun, ni tous).",
    "zone_would_grow": "Cette décision ferait entrer dans la zone des signalements voisins que vous n'avez pas choisis (un retrait les en tenait séparés) : confirmez d'abord la zone de ces voisins, ou ajoutez-les à celle-ci.",
    "invalid_join": "Choisissez une autre zone du même réseau, ou un signalement de ce réseau qui n'est dans aucune zone, à réunir avec celle-ci.",
    "photo_too_large": "La photo dépasse 5 Mo : réduisez-la avant de l'envoyer.",
    "unsupported_image": "La photo n'est pas une image JPEG ou PNG (d'après son contenu, pas son nom) : envoyez une photo JPEG ou PNG.",
    "invalid_image": "L'image est endommagée ou tronquée : elle ne peut pas être lue. Envoyez-la à nouveau.",
    "decompression_bomb": "L'image annonce plus de pixels que permis : elle est refusée sans être décodée. Envoyez une photo plus petite.",
    "evidence_limit": "Ce signalement a déjà le nombre maximal de photos ou de mesures.",
}

#: The same messages with the figures an error carries (``%(name)s``, filled from its
#: ``extra`` members by ``geosignal.ui_text.error_message``), used when it carries them all.
MESSAGES_FR: dict[str, str] = {
    "area_too_small": "Zone trop petite (%(area)s m²) : dessinez au moins %(limit)s m², ou placez un point.",
    "area_too_large": "Zone trop grande (%(area)s km²) : le maximum est %(limit)s km² ; découpez-la en plusieurs signalements.",
    "too_many_vertices": "Trop de sommets (%(value)s) : le maximum est %(limit)s. Simplifiez la forme.",
    "payload_too_large": "Le fichier dépasse la taille maximale (%(limit)s Mo) : réduisez-le ou découpez-le.",
    "duplicate_header": "L'en-tête du fichier CSV nomme deux fois la colonne « %(column)s » : renommez ou supprimez l'une d'elles.",
    "field_too_long": "Un champ de la colonne « %(column)s » est trop long (%(value)s caractères, maximum %(limit)s) : raccourcissez-le.",
    "unterminated_quote": "Un guillemet ouvert dans la colonne « %(column)s » n'est jamais fermé : corrigez la ligne indiquée.",
    "malformed_quote": "Dans la colonne « %(column)s », du texte suit le guillemet qui ferme le champ : doublez les guillemets à l'intérieur du champ, ou mettez tout le champ entre guillemets.",
    "service_unavailable": "Service momentanément indisponible : réessayez dans %(seconds)s secondes.",
    "rate_limited": "Trop d'envois en peu de temps : attendez %(seconds)s secondes avant de réessayer ; rien n'a été enregistré.",
    "weak_password": "Mot de passe trop court (%(length)s caractères) : choisissez-en un d'au moins %(minimum)s, par exemple une phrase de quatre mots.",
}
assert set(MESSAGES_FR) <= set(TITLES_FR)


def beyond_limit(value: float, limit: float, write: Callable[[float, int], str], decimals: int,
                 most: int) -> str | None:
    """Write ``value``, refused against ``limit`` (an area under a minimum, over a maximum), so
    that it never reads as that limit: with ``decimals`` decimals, or as many more as it takes
    (at most ``most``) to differ from the limit written the same way; None when even ``most``
    do not (the caller then says « < 100 », « more than 200 km² »). ``write(x, d)`` writes ``x``
    with ``d`` decimals (a page's locale, the API's English): 99.98 against 100 is ``99.98``,
    never ``100``. The scripts follow the same rule (``I.figure``)."""
    for d in range(decimals, max(decimals, most) + 1):
        if (written := write(value, d)) != write(limit, d):  # (rounding keeps order: it differs beyond)
            return written
    return None


#: The problem ``type`` of each code (one string each, shared by every problem document).
_PROBLEM_TYPES = {code: f"urn:geosignal:error:{code}" for code in ERROR_CODES}


class GeosignalError(Exception):
    """An error with an HTTP status, a stable ``code`` and a message for people.

    ``where`` locates the fault in the input: a JSON pointer (``/geometry/coordinates/0/3``),
    a feature index or a CSV row. ``extra`` holds further machine-readable members
    (for example ``{"area_m2": 1.2e9, "limit_m2": 2e8}``).
    """

    #: What the refused input held, when a reader or the batch knew it (an upload's rows):
    #: ``{"description", "cells" (CSV: the coordinate cells as written, by column), "xy" (the
    #: position as read, in the file's CRS), "geometry" (shapely, EPSG:4326, when it was
    #: built)}``, each only when known. Not part of the problem document (:meth:`to_problem`):
    #: an upload's per-feature report shows it beside the error.
    source: dict[str, Any] | None = None

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
        super().__init__()  # the message is made when asked for (__str__): a file's report may hold 100,000

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" + (f" (at {self.where})" if self.where else "")

    def __repr__(self) -> str:
        return f"GeosignalError({self.code!r}, {self.detail!r}, where={self.where!r})"

    def to_problem(self) -> dict[str, Any]:
        """Return the RFC 9457 problem document (``type``, ``title``, ``status``, ``detail``,
        ``code`` and, where known, ``where`` plus the extra members)."""
        doc: dict[str, Any] = {
            "type": _PROBLEM_TYPES[self.code],
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.where is not None:
            doc["where"] = self.where
        doc.update(self.extra)
        return doc
