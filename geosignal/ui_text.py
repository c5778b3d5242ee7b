"""Texts of the pages that are built in Python or sent to the pages' scripts, in French (the
source language: these texts are the msgids), in one place. They are translated where they are
shown (:mod:`geosignal.i18n`: the tables below are extracted into the catalogues by
:func:`geosignal.i18n.extract_python`). The vocabulary's labels are
:data:`geosignal.vocab.LABELS_FR`, the error codes' messages
:data:`geosignal.errors.TITLES_FR` and :data:`geosignal.errors.MESSAGES_FR`.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _

from geosignal import contract, formparse, vocab, workflow
from geosignal.errors import MESSAGES_FR, TITLES_FR, GeosignalError, beyond_limit
from geosignal.formparse import FLAG_WORDS
from geosignal.i18n import ngettext, plural_form
from geosignal.services.aggregation.filters import ESTIMATE_NOTE

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
    "members_ignored": "Membres GeoJSON inconnus ignorés (à mettre dans properties)",
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
    "overlay_ignored": "Image superposée KML ignorée (ce n'est pas un signalement)",
    "columns_ignored": "Colonnes ignorées (ni propriété ni coordonnée)",
    "measurements_not_kept": "Relevé de mesures : les mesures ne sont pas gardées et chaque ligne devient un "
                             "signalement de zone blanche, même là où la couverture est bonne. Ne gardez que les "
                             "lignes sans couverture utilisable, puis ajoutez les mesures sur la page du signalement. "
                             "Colonnes de mesure",
    "file_already_saved": "Fichier déjà enregistré",
    "row_saved_before": "Ligne déjà enregistrée (envoi précédent)",
    "same_place_saved_before": "Même lieu qu'un signalement déjà enregistré, avec d'autres informations",
    "rows_saved_before": "Lignes déjà enregistrées",
    "technology_not_of_network": "Technologie d'un autre réseau (à vérifier)",
    "curve_linearised": "Arcs lus comme des segments droits",
    "observed_at_from_track": "Date d'observation : l'heure du premier point de la trace",
    "track_read_as_line": "Trace KML (gx:Track) lue comme une ligne ; heures des points ignorées",
    "partly_outside_commune": "Forme en partie hors de sa commune",
}

#: A position in WGS 84 as the pages write it, latitude north then longitude east (``{lat}``,
#: ``{lon}``: numbers the scripts write): one text for the map form and the upload preview, so
#: that each language spells north and east one way (Dutch: « O », oost).
POSITION_FR = "{lat} N, {lon} E"

#: The flash category by which the page after a report is stored names the idempotency key of
#: the form stored (never shown: templates/base.html writes it on ``<body data-sent-reports>``),
#: so that the copy the map page kept on the device while sending it is forgotten (nav.js).
SENT_REPORT_FLASH = "sent_report"

#: Messages of the representative's map script (static/js/report-map.js), by key; ``{name}``
#: is filled by the script.
MAP_MESSAGES: dict[str, Any] = {
    "none": "Aucune forme dessinée.",
    "open_report": "Ouvrir le signalement",
    # a report chosen in the list « Signalements sur la carte »: said when its popup opens
    "report_shown": "Affiché sur la carte : {report}.",
    "key_title": "Couleur selon le statut",
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
    # the same without the address search (no geocoder configured: the field is not shown)
    "draw_first_no_address": "Indiquez d'abord le lieu : dessinez sur la carte, saisissez des coordonnées ou votre "
                             "position.",
    "sending": "Envoi…",
    # a report written where there is no network (a white zone): kept on the device, offered again
    "unsent_offline": "Pas de connexion internet : le signalement n'est pas parti. Il reste sur cette page et est "
                      "gardé sur cet appareil : envoyez-le quand le réseau revient.",
    "unsent_offline_now": "Pas de connexion internet en ce moment : continuez, le signalement est gardé sur cet "
                          "appareil et pourra être envoyé quand le réseau reviendra.",
    "online_again": "Le réseau est revenu : vous pouvez envoyer le signalement.",
    "unsent_found": "Un signalement préparé sur cet appareil le {date} à {time} n'a pas été envoyé (pas de "
                    "réseau ?).",
    # the same for a report the server refused (the page said why; it was left, or its language changed)
    "unsent_found_refused": "Un signalement préparé sur cet appareil le {date} à {time} a été refusé et n'est pas "
                            "enregistré : reprenez-le pour le corriger, puis envoyez-le.",
    "unsent_resume": "Le reprendre",
    # a radius typed 6.000 or 1,500 (thousands or decimal separator?): its two readings, as the
    # server says it (specific_message, kind ambiguous_separator)
    "radius_ambiguous": "Rayon (m) : « {value} » se lit {thousands} ou {decimal} : écrivez le nombre sans "
                        "séparateur de milliers.",
    "unsent_discard": "L'effacer",
    "unsent_resumed": "Signalement repris : vérifiez-le, puis envoyez-le.",
    "unsent_discarded": "Signalement non envoyé effacé de cet appareil.",
    "placed": "Point placé : {position} ({how}){commune}.",
    "placed_circle": "Zone de {r} m de rayon autour de {position} ({how}){commune}.",
    # several positions typed in the coordinates field, one per line (or WKT), placed
    "placed_line": "Tronçon de route placé d'après les coordonnées ({n} positions) : {measure}.",
    "placed_zone": "Zone placée d'après les coordonnées ({n} positions) : {measure}.",
    "line": "Ligne {n} :",
    # a drawing tool started from the keyboard (Leaflet.draw needs a pointer): the way without one
    "no_mouse": "Sans souris : écrivez les positions dans le champ « Coordonnées » du formulaire, une par ligne, "
                "puis « Placer ».",
    # a position (POSITION_FR), in the sentences above and the readings to choose between
    "position": POSITION_FR,
    "in_commune": " — {commune}",
    "read_as": {"lat_lon": "lu latitude puis longitude", "lon_lat": "lu longitude puis latitude",
                "x_y": "lu x puis y", "y_x": "lu y puis x"},
    "notation": {"decimal": "degrés décimaux WGS 84", "dms": "degrés, minutes, secondes",
                 "lambert72": "Lambert belge 72", "lambert2008": "Lambert belge 2008"},
    "choose_reading": "Lequel de ces lieux voulez-vous dire ?",
    # typed coordinates refused while a place was given: that place goes (it would have been
    # sent while the field showed the refused coordinates)
    "place_removed": "Le lieu indiqué auparavant est retiré de la carte.",
    "geolocating": "Recherche de votre position…",
    "geolocation_denied": "Votre position n'a pas pu être obtenue ({reason}). Saisissez des coordonnées ou une adresse.",
    "geolocation_denied_no_address": "Votre position n'a pas pu être obtenue ({reason}). Saisissez des coordonnées "
                                     "ou dessinez sur la carte.",
    "geolocation_unsupported": "Ce navigateur ne donne pas la position.",
    # why, by the browser's error code (its own message is in the browser's language)
    "geolocation_reason_denied": "l'accès à votre position est refusé",
    "geolocation_reason_unavailable": "votre position n'est pas disponible",
    "geolocation_reason_timeout": "le délai est dépassé",
    "position_accuracy": "votre position, précision {r} m",
    "searching": "Recherche de l'adresse…",
    "no_result": "Aucune adresse trouvée dans les communes desservies.",
    "results_one": "{n} adresse trouvée : choisissez-la.",
    "results_other": "{n} adresses trouvées : choisissez-en une.",
    "outside_territory": "hors des communes desservies",
    "address": "adresse",
    "error": "Erreur : {detail}",
    "next": "Décrire la zone blanche",
    "back": "Revenir à la carte",
    "no_description": "(sans description)",
    "kinds": {"marker": "un point", "polyline": "un tronçon", "polygon": "une zone", "rectangle": "une zone",
              "circle": "un cercle", "position": "un point"},
    # the drawing tools' names, shown beside their icons until a shape is drawn (report-map.js)
    "tools": {"polyline": "Tronçon de route", "polygon": "Zone", "rectangle": "Rectangle", "circle": "Cercle",
              "marker": "Point"},
}

#: Messages of the referent's dashboard script (static/js/dashboard.js).
DASHBOARD_MESSAGES: dict[str, Any] = {
    "indicators": {
        "white_zone_share": "Part en zone blanche",
        "reports_per_1000_inhabitants": "Signalements / 1 000 hab.",
        "households_declared": "Ménages touchés (déclarés)",
        "inhabitants_affected_estimate": "Habitants touchés (estimation)",
    },
    "reports_count": "Signalements : {n}",
    "no_value": "aucune valeur > 0",
    # a commune with reports but no value for the indicator: outlined in dashes, not left to
    # read as "no problem here", and said why — each indicator has its own reason (the legend's
    # line, the commune's tooltip; dashboard.js noValueReason): points and road stretches have
    # no area, reports may declare no household, zones too small to count one inhabitant, a
    # commune without population has no figure per inhabitant
    "reported_no_value": {
        "no_area": "Signalée, sans surface : points et tronçons seuls (voir le tableau)",
        "no_households": "Signalée, aucun ménage déclaré dans ses signalements",
        "too_small": "Signalée, zones trop petites pour compter un habitant",
        "no_population": "Signalée, population inconnue : pas de valeur par habitant",
    },
    "reported_no_value_tip": {
        "no_area": "Ses signalements sont des points ou des tronçons : sans surface, ils n'ont pas de valeur pour "
                   "cet indicateur.",
        "no_households": "Aucun de ses signalements ne déclare de ménage touché.",
        "too_small": "Ses zones signalées sont trop petites pour compter un habitant à l'estimation.",
        "no_population": "Sa population n'est pas connue : pas de valeur par habitant.",
    },
    "yes": "oui",
    "no": "non",
    # the commune table's total row (the API row's name_fr is the French "Territoire")
    "territory_row": "Territoire",
    # a commune's card on a phone: the button that shows the figures after its three key ones
    "more_figures": "Autres chiffres",
    "territory": {
        "communes": "Communes",
        "reports": "Signalements",
        "kinds": "dont points / tronçons / zones",
        "white_zone": "Zone blanche",
        "share": "Part du territoire",
        "lines": "Tronçons",
        "households": "Ménages touchés (déclarés)",
        "inhabitants": "Habitants touchés (estimation)",
    },
    "edition": "{year} : score smart moyen {score}",
    "edition_answers": " ({n} réponses)",
    "edition_published": " (chiffres publiés)",
    "no_edition": "Aucune édition importée : importez les réponses des communes ci-dessous.",
    "error": "Erreur : {detail}",
    # filters refused (a period that ends before it starts): the figures of the filters before
    # are taken away, not left as if they answered these
    "no_figures": "Aucun chiffre affiché : corrigez les filtres.",
    "cell_reports_one": "{n} signalement",
    "cell_reports_other": "{n} signalements",
    # the plural by the language's rule (window.geosignalI18n.pluralForm: 0 and 1 are "one" in French)
    "in_view_one": "{n} signalement dans la vue",
    "in_view_other": "{n} signalements dans la vue",
    "grouped": " (regroupés par le serveur)",
    "estimate_note": ESTIMATE_NOTE,  # the aggregation's note, translated
    "neighbour_zone_mark": "zone signalée depuis une commune voisine",
    "neighbour_zone_note": "* Aucun signalement de la commune elle-même : une zone signalée dans une commune voisine "
                           "déborde sur son territoire et y compte pour sa partie.",
    # the table's search (name or NIS code): how many rows it leaves
    "search_count_one": "{shown} commune sur {total}",
    "search_count_other": "{shown} communes sur {total}",
}

#: Messages of the upload page's script (static/js/import.js).
IMPORT_MESSAGES: dict[str, Any] = {
    # counts in their plural form (window.geosignalI18n.pluralForm: 0 and 1 are "one" in French)
    "summary": "{accepted}, {refused} — format {format}.",
    "accepted_count_one": "{n} élément accepté",
    "accepted_count_other": "{n} éléments acceptés",
    "refused_count_one": "{n} refusé",
    "refused_count_other": "{n} refusés",
    "accepted": "accepté",
    "accepted_note": "accepté, avec une remarque",
    "refused": "refusé",
    "sample": " Le tableau montre {shown} éléments sur {total} (les refusés d'abord), la carte au plus {max}.",
    "error": "Erreur",
    "queued": "en attente",
    "reading": "lecture du fichier",
    "saved_one": "{n} signalement enregistré.",
    "saved_other": "{n} signalements enregistrés.",
    # the same bytes saved before (the file_already_saved warning), by the user or a colleague;
    # in the plural form of the number of reports saved then
    "already_saved_one": "Ce fichier a déjà été enregistré le {date} (« {filename} », {saved} signalement) : "
                         "l'enregistrer à nouveau ajoute ses signalements une seconde fois.",
    "already_saved_other": "Ce fichier a déjà été enregistré le {date} (« {filename} », {saved} signalements) : "
                           "l'enregistrer à nouveau ajoute ses signalements une seconde fois.",
    "already_saved_commune_one": "Ce fichier a déjà été enregistré le {date} par une autre personne de votre "
                                 "commune (« {filename} », {saved} signalement) : l'enregistrer à nouveau ajoute "
                                 "ses signalements une seconde fois.",
    "already_saved_commune_other": "Ce fichier a déjà été enregistré le {date} par une autre personne de votre "
                                   "commune (« {filename} », {saved} signalements) : l'enregistrer à nouveau "
                                   "ajoute ses signalements une seconde fois.",
    # rows of an edited copy saved before, unchanged (the rows_saved_before warning): the latest
    # save; in the plural form of the number of rows
    "rows_saved_before_one": "{rows} ligne de ce fichier est identique (lieu et attributs) à une ligne "
                             "enregistrée le {date} (« {filename} ») : l'enregistrer à nouveau ajoute ce "
                             "signalement une seconde fois.",
    "rows_saved_before_other": "{rows} lignes de ce fichier sont identiques (lieu et attributs) à des lignes "
                               "enregistrées le {date} (« {filename} ») : les enregistrer à nouveau ajoute ces "
                               "signalements une seconde fois.",
    "rows_saved_before_commune_one": "{rows} ligne de ce fichier est identique (lieu et attributs) à une ligne "
                                     "enregistrée le {date} par une autre personne de votre commune "
                                     "(« {filename} ») : l'enregistrer à nouveau ajoute ce signalement une "
                                     "seconde fois.",
    "rows_saved_before_commune_other": "{rows} lignes de ce fichier sont identiques (lieu et attributs) à des "
                                       "lignes enregistrées le {date} par une autre personne de votre commune "
                                       "(« {filename} ») : les enregistrer à nouveau ajoute ces signalements une "
                                       "seconde fois.",
    "rows_saved_before_lines": "Lignes concernées : {lines}.",
    # after a save that left out the rows saved before
    "skipped_one": "{n} ligne déjà enregistrée laissée de côté.",
    "skipped_other": "{n} lignes déjà enregistrées laissées de côté.",
    # after a save whose corrected rows updated the reports an earlier upload stored
    "corrected_one": "{n} signalement déjà enregistré corrigé.",
    "corrected_other": "{n} signalements déjà enregistrés corrigés.",
    # a CSV whose coordinate columns were not recognised (unreadable_file, reason
    # no_coordinate_columns): the columns' choice opens under the form
    "no_coordinate_columns": "Les colonnes des coordonnées n'ont pas été reconnues : choisissez ci-dessus "
                             "quelle colonne contient la longitude et la latitude (ou x et y, ou les deux), puis "
                             "prévisualisez à nouveau.",
    # the link after a save, to the commune's reports
    "see_reports": "Voir les signalements",
    # a refused row's cell (the error's column, and the value it held when known)
    "cell": "colonne « {column} »",
    "cell_value": "colonne « {column} » : « {value} »",
    # the same for a KML or GPX fault: the line of the file (its column there is a character's
    # place, no spreadsheet column)
    "file_line": "ligne {line} du fichier",
    "file_line_value": "ligne {line} du fichier : « {value} »",
    # a value set aside in a vocabulary column: the values the column may hold
    "allowed": "valeurs admises : {values}",
    # a file's row refused as lying mainly in a commune the user does not represent (the error's
    # commune_nis, named from the page's list of communes); without it, the unnamed message
    "not_your_commune": "Cette ligne se trouve surtout dans une autre commune que la vôtre : {commune}. "
                        "Vous ne pouvez pas l'importer.",
    "not_your_commune_unnamed": "Cette ligne se trouve surtout dans une autre commune que la vôtre. "
                                "Vous ne pouvez pas l'importer.",
    # the same for a row that is one point (the error's kind « point »): wholly there, not « surtout »
    "not_your_commune_point": "Le point de cette ligne se trouve dans une autre commune que la vôtre : {commune}. "
                              "Vous ne pouvez pas l'importer.",
    "not_your_commune_point_unnamed": "Le point de cette ligne se trouve dans une autre commune que la vôtre. "
                                      "Vous ne pouvez pas l'importer.",
    # an accepted row a tenth or more of which lies outside the commune it is filed in (the
    # partly_outside_commune warning: {share} its share outside, as a percentage in the
    # page's language)
    "partly_outside": "{share} de cette forme se trouve hors de {commune}, la commune qui en contient la plus "
                      "grande part, où elle est classée : cette partie compte dans les communes où elle se trouve, "
                      "et nulle part hors des communes desservies.",
    # the same for a row of several points ({share}: the share of its points outside): a
    # report counts once, in its commune; the other points count nowhere else
    "partly_outside_points": "{share} des points de cette ligne se trouvent hors de {commune}, la commune qui en "
                             "contient le plus, où elle est classée : un signalement compte une fois, dans sa "
                             "commune, et ces points ne comptent dans aucune autre. Importez-les dans des lignes "
                             "à part pour qu'ils comptent chacun dans sa commune.",
    # an accepted row of the place of a report an earlier upload stored, with other values (a
    # row corrected in an edited copy: the same_place_saved_before warning), and the link to it
    "same_place": "Même lieu que le signalement {reference}, enregistré le {date} (« {filename} ») avec "
                  "d'autres informations : enregistrer cette ligne crée un second signalement. Pour corriger "
                  "{reference}, modifiez-le plutôt.",
    "same_place_commune": "Même lieu que le signalement {reference}, enregistré le {date} par une autre personne "
                          "de votre commune (« {filename} ») avec d'autres informations : enregistrer cette ligne "
                          "crée un second signalement. Pour corriger {reference}, modifiez-le plutôt.",
    # the same, when the row may update that report (correctable: the box under the table)
    "same_place_correctable": "Même lieu que le signalement {reference}, enregistré le {date} (« {filename} ») "
                              "avec d'autres informations : avec la case « Corriger » cochée, cette ligne le "
                              "corrige ; sinon elle crée un second signalement.",
    "same_place_correctable_commune": "Même lieu que le signalement {reference}, enregistré le {date} par une "
                                      "autre personne de votre commune (« {filename} ») avec d'autres "
                                      "informations : avec la case « Corriger » cochée, cette ligne le corrige ; "
                                      "sinon elle crée un second signalement.",
    # what ticking « Corriger » changes in that report ({changes}: each property the file has a
    # column for whose value differs, "label : before → after"); the rest of the report is kept
    "same_place_changes": "Avec la case « Corriger » cochée, cette ligne change : {changes} ; le reste du "
                          "signalement est gardé.",
    "same_place_no_change": "Avec la case « Corriger » cochée, cette ligne ne change rien : ce qui diffère n'est "
                            "pas dans les colonnes du fichier.",
    # the same, when that report's status is no longer edited (validated, transmitted…)
    "same_place_locked": "Même lieu que le signalement {reference}, enregistré le {date} (« {filename} ») avec "
                         "d'autres informations ; il est « {status} » et ne se modifie plus : enregistrer cette "
                         "ligne crée un second signalement.",
    "same_place_locked_commune": "Même lieu que le signalement {reference}, enregistré le {date} par une autre "
                                 "personne de votre commune (« {filename} ») avec d'autres informations ; il est "
                                 "« {status} » et ne se modifie plus : enregistrer cette ligne crée un second "
                                 "signalement.",
    "same_place_link": "Ouvrir {reference}",
    # a row repeated in the file (same shape and values as an earlier row): stored once
    "repeated_row": "Même forme et mêmes informations que la ligne {row} du fichier : enregistrée une seule fois.",
    # a refused row's coordinates, as its author finds them in the file: a CSV's coordinate
    # cells as written (column and what it held), or the position read (another file's point)
    "coordinate_cell": "{column} « {value} »",
    "position": POSITION_FR,
}

#: Messages of the referent's validation queue script (static/js/queue.js), by key;
#: ``%(name)s`` is filled by the script. Singular / plural pairs end in ``_one`` / ``_other``.
QUEUE_MESSAGES: dict[str, Any] = {
    "validated": "Signalement %(ref)s validé.",
    "rejected": "Signalement %(ref)s rejeté.",
    "needs_info": "Question envoyée pour le signalement %(ref)s.",
    "bulk_done_one": "%(n)s signalement validé.",
    "bulk_done_other": "%(n)s signalements validés.",
    "bulk_partial": "Validés : %(n)s. Non validés : %(m)s (la raison est sur leur carte).",
    "not_moved": "Non validé : statut actuel « %(status)s ».",
    # the commune changed the report after the list was read (its status is the one read):
    # nothing decided on it
    "changed_since": "Rien n'a été fait pour %(ref)s : la commune l'a modifié depuis l'affichage de la liste. "
                     "Rechargez la liste et relisez-le.",
    # its status changed after the list was read (another referent decided it, its commune
    # withdrew it…): nothing decided on it; %(status)s is its status now
    "decided_since": "Rien n'a été fait pour %(ref)s : quelqu'un d'autre a changé son statut depuis l'affichage "
                     "de la liste ; il est maintenant « %(status)s ». Rechargez la liste pour décider sur ce "
                     "qu'il est devenu.",
    "reason_required": "Indiquez un motif avant de confirmer.",
    "question_required": "Écrivez la question avant de l'envoyer.",
    "error": "L'action a échoué : %(detail)s",
    "network_error": "Le serveur ne répond pas ; rien n'a été modifié. Réessayez.",
    "loading": "Chargement…",
    # whatever the statuses chosen (not only those waiting): n == 1, and every other n
    "loaded_one": "%(total)s signalement trouvé ; %(shown)s affiché.",
    "loaded_other": "%(total)s signalements trouvés ; %(shown)s affichés.",
    "empty": "Aucun signalement ne correspond à ces filtres.",
    "map_loading": "Chargement de la forme…",
    "map_shown": "Forme du signalement %(ref)s affichée sur la carte.",
    "selected_none": "Aucun signalement sélectionné",
    "selected_one": "%(n)s sélectionné",
    "selected_other": "%(n)s sélectionnés",
    "point": "point",
}

#: Messages of the report page's map script (static/js/report-page.js), by key.
REPORT_PAGE_MESSAGES: dict[str, str] = {
    "point_title": "Point du signalement",
    "changed": "Forme modifiée : elle sera enregistrée avec le formulaire.",
    # a vertex handle moved with the arrow keys (report-page.js): where it is, and the shape's measure
    "vertex_moved": "Sommet déplacé : {position}. {measure}",
    "vertex_set": "Sommet posé : {position}. {measure} La forme sera enregistrée avec le formulaire.",
    "vertex_back": "Sommet remis à sa place : {position}. {measure}",
    "position": POSITION_FR,
    "area": "Surface : environ {m2} m².",
    "length": "Longueur : environ {m} m.",
    # the place replaced by the coordinates typed in the edit form
    "placed": "Lieu remplacé d'après les coordonnées ({n} positions) : il sera enregistré avec le formulaire. "
              "{measure}",
    "multi": "Cette forme en plusieurs parties ne se modifie pas ici : seules les informations seront enregistrées.",
}

#: The queue's decisions: prompt of the text asked and text of the confirming button, by the
#: kind of text the transition needs (:data:`geosignal.workflow.TEXT_KINDS`).
QUEUE_PROMPTS: dict[str, dict[str, str]] = {
    "reason": {"prompt": "Motif du rejet (envoyé à la commune)", "confirm": "Confirmer le rejet"},
    "question": {"prompt": "Question pour la commune", "confirm": "Envoyer la question"},
}

#: States of a zone of overlapping reports (:data:`geosignal.services.zones_sql.ZONE_STATES`).
ZONE_STATES_FR: dict[str, str] = {"proposed": "zone proposée", "confirmed": "zone confirmée"}

#: Fields of a report's evidence (speed tests): labels of the table, the form and the errors.
EVIDENCE_FIELDS_FR: dict[str, str] = {
    "measured_at": "Date de la mesure",
    "download_mbps": "Débit descendant",
    "upload_mbps": "Débit montant",
    "latency_ms": "Latence",
    "signal_dbm": "Signal",
    "operator": "Opérateur",
}

#: Leaflet.draw's texts (``L.drawLocal``), in French; the catalogue of each language carries
#: their translation (:func:`geosignal.i18n.js_catalogue`).
DRAW_LOCAL: dict[str, Any] = {
    "draw": {
        "toolbar": {
            "actions": {"title": "Annuler le dessin", "text": "Annuler"},
            "finish": {"title": "Terminer le dessin", "text": "Terminer"},
            "undo": {"title": "Supprimer le dernier point dessiné", "text": "Supprimer le dernier point"},
            "buttons": {
                "polyline": "Dessiner un tronçon de route",
                "polygon": "Dessiner une zone",
                "rectangle": "Dessiner un rectangle",
                "circle": "Dessiner un cercle",
                "marker": "Placer un point",
                "circlemarker": "Placer un point",
            },
        },
        "handlers": {
            "circle": {"tooltip": {"start": "Cliquez et faites glisser pour dessiner un cercle."}, "radius": "Rayon"},
            "circlemarker": {"tooltip": {"start": "Cliquez sur la carte pour placer un point."}},
            "marker": {"tooltip": {"start": "Cliquez sur la carte pour placer un point."}},
            "polygon": {"tooltip": {
                "start": "Cliquez pour commencer à dessiner la zone (sans souris : champ « Coordonnées », une "
                         "position par ligne).",
                "cont": "Cliquez pour continuer à dessiner la zone.",
                "end": "Cliquez sur le premier point pour fermer la zone.",
            }},
            "polyline": {
                "error": "<strong>Erreur :</strong> les côtés de la forme ne peuvent pas se croiser !",
                "tooltip": {
                    "start": "Cliquez pour commencer à dessiner le tronçon (sans souris : champ « Coordonnées », "
                             "une position par ligne).",
                    "cont": "Cliquez pour continuer à dessiner le tronçon.",
                    "end": "Cliquez sur le dernier point pour terminer le tronçon.",
                },
            },
            "rectangle": {"tooltip": {"start": "Cliquez et faites glisser pour dessiner un rectangle."}},
            "simpleshape": {"tooltip": {"end": "Relâchez pour terminer le dessin."}},
        },
    },
    "edit": {
        "toolbar": {
            "actions": {
                "save": {"title": "Enregistrer les modifications", "text": "Enregistrer"},
                "cancel": {"title": "Annuler la modification (les changements sont perdus)", "text": "Annuler"},
                "clearAll": {"title": "Effacer toutes les formes", "text": "Tout effacer"},
            },
            "buttons": {
                "edit": "Modifier la forme",
                "editDisabled": "Aucune forme à modifier",
                "remove": "Supprimer la forme",
                "removeDisabled": "Aucune forme à supprimer",
            },
        },
        "handlers": {
            "edit": {"tooltip": {
                "text": "Faites glisser les poignées ou les points pour modifier la forme.",
                "subtext": "Cliquez sur Annuler pour défaire les changements.",
            }},
            "remove": {"tooltip": {"text": "Cliquez sur une forme pour la supprimer."}},
        },
    },
}

#: Leaflet.draw's instructions on a touch screen (a coarse pointer: a phone), over
#: :data:`DRAW_LOCAL`'s: a finger taps, it does not click.
DRAW_TOUCH: dict[str, Any] = {
    "draw": {"handlers": {
        "circle": {"tooltip": {"start": "Touchez et faites glisser pour dessiner un cercle."}},
        "circlemarker": {"tooltip": {"start": "Touchez la carte pour placer un point."}},
        "marker": {"tooltip": {"start": "Touchez la carte pour placer un point."}},
        "polygon": {"tooltip": {
            "start": "Touchez la carte pour commencer la zone.",
            "cont": "Touchez pour ajouter un coin à la zone.",
            "end": "Touchez le premier point pour fermer la zone.",
        }},
        "polyline": {"tooltip": {
            "start": "Touchez la carte pour commencer le tronçon.",
            "cont": "Touchez pour continuer le tronçon.",
            "end": "Touchez le dernier point pour terminer le tronçon.",
        }},
        "rectangle": {"tooltip": {"start": "Touchez et faites glisser pour dessiner un rectangle."}},
        "simpleshape": {"tooltip": {"end": "Levez le doigt pour terminer le dessin."}},
    }},
    "edit": {"handlers": {
        "edit": {"tooltip": {"subtext": "Touchez Annuler pour défaire les changements."}},
        "remove": {"tooltip": {"text": "Touchez une forme pour la supprimer."}},
    }},
}

#: Leaflet's own texts (zoom buttons, layer switcher, markers) and the base-map notice.
LEAFLET_MESSAGES: dict[str, str] = {
    "zoom_in": "Zoom avant", "zoom_out": "Zoom arrière",
    # the layer switcher's button (Leaflet's "Layers") and a marker's alternative text (its
    # "Marker"): static/js/leaflet-setup.js
    "layers": "Choisir le fond de carte",
    "marker": "Point sur la carte",
    # a popup's close button (Leaflet's "Close popup") and the title of Leaflet's credit ("A
    # JavaScript library for interactive maps")
    "close_popup": "Fermer",
    # a cluster of reports on the dashboard's map (Leaflet.markercluster): the name of its button,
    # which zooms to them; the plural by the language's rule (window.geosignalI18n.pluralForm)
    "cluster_one": "{n} signalement : zoomer",
    "cluster_other": "{n} signalements : zoomer",
    "library": "Une bibliothèque JavaScript de cartes interactives",
    # shown on a map whose base-map tiles cannot be loaded (static/js/basemap-notice.js)
    "basemap_unavailable": "Fond de carte indisponible : les communes et les signalements restent affichés.",
    "close_notice": "Fermer ce message",
}

#: States of an API token (tokens page).
TOKEN_STATES: dict[str, str] = {"active": "actif", "expired": "expiré", "revoked": "révoqué"}

#: Filters of a recorded export (exports page).
EXPORT_FILTER_LABELS: dict[str, str] = {"status": "statut", "commune": "commune", "bbox": "emprise",
                                        "since": "depuis", "dialect": "dialecte", "decimal": "décimale"}

#: Indicators of the dashboard's map (the choice above the map).
INDICATORS: dict[str, str] = {
    "white_zone_share": "Part de la surface en zone blanche",
    "reports_per_1000_inhabitants": "Signalements pour 1 000 habitants",
    "households_declared": "Ménages touchés (déclarés)",
    "inhabitants_affected_estimate": "Habitants touchés (estimation)",
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


#: How the figures an error carries are written into its message (:data:`MESSAGES_FR`):
#: placeholder → (member of the error's ``extra``, kind: ``m2``, ``km2``, ``int``, ``mb``, ``text``[,
#: member holding the limit the figure breaks: it never reads as that limit, :func:`_figure`]).
MESSAGE_PARAMS: dict[str, dict[str, tuple[str, ...]]] = {
    "area_too_small": {"area": ("area_m2", "m2", "limit_m2"), "limit": ("limit_m2", "m2")},
    "area_too_large": {"area": ("area_m2", "km2", "limit_m2"), "limit": ("limit_m2", "km2")},
    "too_many_vertices": {"value": ("value", "int"), "limit": ("limit", "int")},
    "payload_too_large": {"limit": ("limit", "mb")},
    "duplicate_header": {"column": ("column", "text")},
    "field_too_long": {"column": ("column", "text"), "value": ("value", "int"), "limit": ("limit", "int")},
    "unterminated_quote": {"column": ("column", "text")},
    "malformed_quote": {"column": ("column", "text")},
    "service_unavailable": {"seconds": ("retry_after_s", "int")},
    "rate_limited": {"seconds": ("retry_after", "int")},
    "weak_password": {"length": ("length", "int"), "minimum": ("minimum", "int")},
}
assert set(MESSAGE_PARAMS) == set(MESSAGES_FR)


#: The most decimals an area of each kind takes to differ from the limit it breaks (0.01 m²,
#: 0.0001 km²); beyond, it reads ``< 100`` / ``> 200`` (:func:`geosignal.errors.beyond_limit`).
#: The scripts read it from their catalogue (``I.figure``).
BEYOND_LIMIT_DECIMALS: dict[str, int] = {"m2": 2, "km2": 4}


def _figure(value: Any, kind: str, limit: Any = None) -> str:
    """Write a figure of a message of :data:`MESSAGE_PARAMS` in the current language; one
    refused against ``limit`` (same unit) never reads as it."""
    from geosignal.i18n import format_number

    if kind in BEYOND_LIMIT_DECIMALS:
        scale = 1e6 if kind == "km2" else 1.0  # (m² whole; km² whole, else with one decimal)
        x = float(value) / scale
        if limit is None:
            return format_number(x, 0 if kind == "m2" or x.is_integer() else 1)
        bound = float(limit) / scale
        return beyond_limit(x, bound, format_number, 0 if kind == "m2" or x.is_integer() else 1,
                            BEYOND_LIMIT_DECIMALS[kind]) or \
            ("<\u00a0" if x < bound else ">\u00a0") + format_number(bound, 0 if kind == "m2" or bound.is_integer() else 1)
    if kind == "mb":
        return format_number(float(value) / 1048576, 0)
    if kind == "int":
        return format_number(int(value))
    return str(value)


def _field_name(where: str | None) -> str:
    """The property or form field a pointer (``/properties/description/0``) or name concerns."""
    pointer = (where or "").strip("/")
    if pointer.startswith("properties/"):
        return pointer.split("/")[1]
    return pointer.split("/")[0]


#: A zone valid as drawn whose rings touch on an edge, crossing once projected to EPSG:31370
#: (``self_intersection`` or ``invalid_geometry``, kind ``invalid_in_epsg31370``).
_RINGS_TOUCH_ON_AN_EDGE = ("Deux contours de cette zone se touchent au milieu d'un côté (voir le repère sur la carte) : "
                           "déplacez ce sommet de quelques centimètres pour qu'ils ne se touchent plus, ou placez le "
                           "même sommet sur les deux contours.")

_TOO_CLOSE_FOR_STORED_PRECISION = ("Deux contours de cette zone sont à moins d'un dixième de millimètre l'un de "
                                   "l'autre, ou une de ses parties est plus fine que cela (voir le repère sur la "
                                   "carte) : une fois enregistrée, la zone ne serait plus valide. Écartez ces "
                                   "contours de quelques centimètres, ou retirez la partie trop fine.")

#: The message of a refusal whose ``kind`` says more than its code, by code and kind (pages
#: through :func:`specific_message`, scripts through the catalogue's ``kinds``).
KIND_MESSAGES_FR: dict[str, dict[str, str]] = {
    "service_unavailable": {
        "write_conflict": "Un autre enregistrement fait au même moment a bloqué le vôtre ; rien n'a été "
                          "enregistré : réessayez dans un instant.",
        "busy": "Un long enregistrement (un import de fichier) occupe ce qu'il faut au vôtre ; rien n'a été "
                "enregistré : réessayez dans une minute.",
    },
    "invalid_datetime": {
        "future": "Cette date est dans le futur : indiquez une date passée, ou celle d'aujourd'hui.",
        "too_early": "Cette date est trop ancienne : vérifiez l'année (par exemple 2025, pas 0025).",
        "missing": "Indiquez quand la mesure a été faite : sa date et son heure.",
    },
    "invalid_attribute": {
        "no_measure": "Indiquez au moins une valeur mesurée : débit descendant, débit montant, latence ou signal.",
        # a file's text holding a control character, a direction override… (set aside, its
        # character named: geosignal.services.intake.properties.check_file_properties)
        "control_character": "Retirez le caractère %(character)s (un caractère de contrôle, invisible ou qui inverse "
                             "le sens de l'écriture) : geosignal ne l'enregistre pas.",
    },
    # NaN or an infinity in a property's value (a count, a radius: its pointer or column), not a
    # coordinate (the code's own message): geosignal.services.intake.numbers.non_finite_kind
    "non_finite_number": {
        "value": "Une valeur vaut NaN ou l'infini : donnez un nombre fini.",
        # a CSV's coordinate cell
        "coordinate_cell": "Ligne %(row)s : la colonne « %(column)s » contient « %(value)s », qui n'est pas un "
                           "nombre fini. Écrivez la coordonnée en chiffres.",
        # the map form's coordinates field (services/coordinates.py): one position, a line of
        # several, a WKT position
        "typed": "« %(value)s » n'est pas un nombre fini : écrivez la position en chiffres (par exemple 50.4108, "
                 "4.4446).",
        "typed_line": "Ligne %(line)s : « %(value)s » contient une valeur qui n'est pas un nombre fini. Écrivez la "
                      "position en chiffres.",
        "wkt_position": "Position %(position)s du WKT (« %(value)s ») : une valeur n'est pas un nombre fini. Écrivez "
                        "la longitude puis la latitude en chiffres.",
    },
    # a required value left empty (the forms leave it to the server: the browser's own bubble
    # speaks the browser's language, not the page's)
    "invalid_request": {
        "no_file": "Choisissez d'abord le fichier à importer (GeoJSON, KML, GPX, CSV, GeoPackage ou Shapefile "
                   "zippé).",
        "no_photo": "Choisissez d'abord une photo (JPEG ou PNG) à ajouter.",
        "already_deactivated": "Ce compte est déjà désactivé : rien n'a été changé.",
        "not_deactivated": "Ce compte est actif : il n'y a rien à réactiver.",
        # inviting the address of a deactivated account (geosignal.services.users.create_user)
        "email_deactivated": "Un compte désactivé existe pour cette adresse : elle ne peut pas être invitée à "
                             "nouveau, et « Mot de passe oublié ? » ne lui envoie rien. Un administrateur le "
                             "réactive (« Réactiver » sur cette page, ou geosignal reactivate-user au terminal) : "
                             "la personne reçoit un nouveau lien pour choisir son mot de passe.",
        # an API token's name holding a line break, a tab or a control: geosignal.services.users.create_token
        "name_characters": "Le nom contient le caractère %(character)s (un retour à la ligne, une tabulation ou un "
                           "caractère de contrôle ou invisible) : écrivez-le sur une seule ligne, sans ce caractère.",
        "no_survey_file": "Choisissez le fichier de l'enquête : l'export du questionnaire, en CSV ou XLSX.",
        "survey_edition": "Indiquez l'année de l'édition de l'enquête, en quatre chiffres (par exemple 2022).",
        # a filter's text (the journal's user, the queue's search) holding a control or invisible
        # character, or too long: geosignal.params.text_parameter
        "control_character": "Un filtre contient le caractère %(character)s (un caractère de contrôle ou invisible, "
                             "souvent venu d'un copier-coller) : retapez sa valeur sans ce caractère.",
        # a form whose text is not UTF-8 (a percent-escape or a multipart field of Latin-1
        # bytes): geosignal.formbody, before any view
        "not_utf8": "Le texte envoyé n'est pas en UTF-8 : le navigateur ou le programme qui a envoyé ce formulaire a "
                    "utilisé un autre encodage, et geosignal ne devine pas les caractères. Rien n'a été enregistré : "
                    "rechargez la page, retapez le texte, puis envoyez-le à nouveau.",
        "parameter_too_long": "Un filtre est trop long : raccourcissez sa valeur à %(limit)s caractères au plus.",
        # a period (from, to) that ends before it starts: every filter of dates says it
        "period_reversed": "La période se termine avant de commencer : choisissez une date de fin égale ou "
                           "postérieure à la date de début.",
        # every status (reports never validated) with "only what is new since the last transmitted
        # export", which is what DWconnect is sent: geosignal.services.export.filters.ExportFilters
        "not_for_dwconnect": "« Seulement ce qui est nouveau depuis le dernier export transmis » prépare l'envoi "
                             "à DWconnect, qui ne peut pas prendre « Tous les statuts » : des signalements que "
                             "vous n'avez pas validés y partiraient. Choisissez « Pour DWconnect », ou décochez "
                             "« Seulement ce qui est nouveau » pour un export complet de tous les statuts.",
    },
    # a zone whose edges cross in so many places that make_valid would run for minutes
    "self_intersection": {
        "too_tangled_to_repair": "Les bords de cette zone se croisent en trop d'endroits pour qu'elle soit réparée "
                                 "automatiquement : redessinez-la en suivant son contour une seule fois.",
        # valid as drawn, not once projected to EPSG:31370: intake.core._invalid_in_lambert72
        "invalid_in_epsg31370": _RINGS_TOUCH_ON_AN_EDGE,
        # valid as sent, not once read back at 9 decimals: intake.core._invalid_as_stored
        "invalid_at_stored_precision": _TOO_CLOSE_FOR_STORED_PRECISION,
    },
    "invalid_geometry": {
        "invalid_in_epsg31370": _RINGS_TOUCH_ON_AN_EDGE,
        "invalid_at_stored_precision": _TOO_CLOSE_FOR_STORED_PRECISION,
    },
    # a CSV neither UTF-8 nor Windows-1252 (Mac Roman, as Excel for Mac saves « CSV »):
    # geosignal.services.intake.files._refuse_not_cp1252
    "undecidable_encoding": {
        # a KML or GPX saved in UTF-8 under a declaration naming another encoding:
        # geosignal.services.intake.containers._decode_declared
        "xml_declared": "Ce fichier annonce l'encodage %(encoding)s, mais ses textes sont en UTF-8 (ligne "
                        "%(line)s) : corrigez sa première ligne en encoding=\"UTF-8\", puis envoyez-le à nouveau.",
        "csv": "L'encodage des textes de ce CSV ne peut pas être déterminé (par exemple un fichier enregistré par "
               "Excel pour Mac) : dans Excel, enregistrez-le au format « CSV UTF-8 » puis envoyez-le à nouveau.",
    },
    "wrong_password": {
        "missing": "Indiquez votre mot de passe actuel : il confirme que c'est bien vous.",
    },
    "weak_password": {
        "missing": "Choisissez un nouveau mot de passe : au moins 12 caractères, par exemple une phrase de quatre "
                   "mots.",
    },
    # a single point placed in a commune the user does not represent (a line, a zone or points
    # lie there « mainly »: the code's message and specific_message)
    "not_your_commune": {
        "point": "Le point se trouve à %(commune_name)s (%(commune_nis)s), pas dans votre commune : placez-le dans "
                 "votre commune.",
    },
    # a file the upload does not read, and what to send instead (geosignal.services.intake.files.detect_format)
    "unsupported_format": {
        "spreadsheet": "Ce fichier est un classeur de tableur (Excel, LibreOffice) : enregistrez-le en CSV "
                       "(Fichier › Enregistrer sous › CSV UTF-8), puis envoyez ce fichier CSV.",
        "zipped_file": "L'archive zip contient le fichier « %(member)s » : décompressez-la et envoyez ce fichier "
                       "lui-même.",
        # a photo, a PDF, another archive (its first bytes), even damaged or misnamed
        "not_geographic": "Ce fichier est une photo, un document ou une autre archive, pas un fichier géographique : "
                          "envoyez du GeoJSON, KML/KMZ, GPX, CSV, GeoPackage ou un Shapefile zippé. Une photo "
                          "s'ajoute depuis la page du signalement.",
    },
    # a CSV's refusals, file or row (geosignal.services.intake.files._read_csv): each names its
    # row (``row``, as a spreadsheet numbers it: the header is row 1) and its column or cell
    "unreadable_file": {
        # a zip archive (a zipped Shapefile, a KMZ, an XLSX workbook) damaged or cut short
        # (geosignal.services.intake.containers.open_zip)
        "damaged_archive": "Le fichier (une archive zip, KMZ ou un classeur XLSX) est endommagé ou incomplet : "
                           "téléchargez-le ou enregistrez-le à nouveau, puis renvoyez-le.",
        # a member compressed otherwise than stored or deflated: bzip2, LZMA…
        # (geosignal.services.intake.containers._inflate)
        "compression_method": "Le fichier « %(member)s » de l'archive est compressé par une méthode qui n'est pas "
                              "lue (%(method)s) : créez l'archive à nouveau avec la compression ordinaire (Deflate), "
                              "puis renvoyez-la.",
        "extra_cell": "Ligne %(row)s : la cellule %(column_number)s (« %(value)s ») dépasse les %(header_columns)s "
                      "colonnes de l'en-tête, sans doute parce qu'un texte contient le séparateur "
                      "« %(delimiter)s ». Mettez ce texte entre guillemets, ou donnez un nom à cette colonne dans "
                      "l'en-tête.",
        "invalid_bytes": "Le fichier est enregistré en %(encoding)s, mais la ligne %(row)s contient des octets "
                         "invalides dans cet encodage : enregistrez-le à nouveau en CSV UTF-8.",
        "mixed_encodings": "Le fichier mélange deux encodages : la ligne %(row)s (colonne « %(column)s ») n'est pas "
                           "en UTF-8, alors que la ligne %(utf8_row)s l'est. Enregistrez tout le fichier à nouveau en "
                           "CSV UTF-8.",
        "csv_syntax": "Le fichier CSV ne peut pas être lu à la ligne %(row)s (guillemets ou séparateurs mal placés) : "
                      "corrigez cette ligne, ou enregistrez à nouveau le fichier en CSV depuis le tableur.",
        "position_twice": "Le fichier donne chaque position deux fois : dans les colonnes « %(x_column)s » et "
                          "« %(y_column)s », et dans la colonne de géométrie « %(wkt_column)s ». Choisissez "
                          "ci-dessous les colonnes à lire, puis prévisualisez à nouveau.",
        # a KMZ as QGIS and LIBKML write it, several layers each in a KML file of its own
        "kmz_layers": "Ce KMZ range ses couches dans des fichiers séparés (%(layers)s) : exportez chaque couche dans "
                      "un KML ou un KMZ à part, ou envoyez le tout en GeoPackage.",
        "unknown_column": "La colonne « %(column)s » choisie n'existe pas dans ce fichier : choisissez-en une autre "
                          "ci-dessous, puis prévisualisez à nouveau.",
        # a survey workbook's formula whose value it does not keep (geosignal.services.survey)
        "formula_without_value": "La cellule %(column)s%(row)s contient une formule dont le classeur ne garde pas la "
                                 "valeur : ouvrez le fichier dans Excel ou LibreOffice, enregistrez-le, puis "
                                 "importez-le à nouveau.",
        # a KML placemark GDAL does not read (geosignal.services.intake.files._placemark_not_read)
        "placemark_not_read": "Le repère de la ligne %(line)s n'a pas pu être lu : il se trouve là où un KML n'en "
                              "prévoit pas (dans un autre repère, dans la mise à jour d'un lien réseau…). "
                              "Déplacez-le dans le document ou dans l'un de ses dossiers.",
    },
    "duplicate_header": {
        "same_name": "L'en-tête (ligne %(row)s) nomme deux fois la colonne « %(column)s » (colonnes "
                     "%(first_column_number)s et %(column_number)s) : renommez ou supprimez l'une d'elles.",
        "same_property": "Les colonnes « %(first_column)s » (colonne %(first_column_number)s) et « %(column)s » "
                         "(colonne %(column_number)s) donnent la même information, l'une cacherait l'autre : "
                         "renommez ou supprimez l'une d'elles.",
        "same_but_case": "Les colonnes « %(first_column)s » (colonne %(first_column_number)s) et « %(column)s » "
                         "(colonne %(column_number)s) ne diffèrent que par les majuscules : renommez l'une d'elles.",
    },
    "field_too_long": {
        "header": "Le nom de la colonne %(column_number)s de l'en-tête (ligne %(row)s) a %(value)s caractères, le "
                  "maximum est %(limit)s : raccourcissez-le.",
        "cell": "Ligne %(row)s, colonne « %(column)s » : la cellule a %(value)s caractères, le maximum est "
                "%(limit)s. Un guillemet ouvert puis fermé bien plus loin en est souvent la cause : vérifiez les "
                "guillemets de cette ligne, ou raccourcissez le texte.",
    },
    "unterminated_quote": {
        "open": "Un guillemet ouvert à la ligne %(row)s, colonne « %(column)s », n'est jamais fermé, et la suite du "
                "fichier serait lue comme un seul texte : fermez-le, ou retirez-le.",
    },
    "malformed_quote": {
        "text_after": "Ligne %(row)s, colonne « %(column)s » : du texte suit le guillemet qui ferme « %(value)s ». "
                      "Mettez tout le texte entre guillemets, en doublant ceux qu'il contient (\"a \"\"b\"\" c\").",
    },
    # a row's coordinates (a file, not the map form: no shape to draw)
    "empty_geometry": {
        "no_coordinates": "Coordonnées vides à la ligne %(row)s : remplissez-les ou retirez la ligne.",
        "no_wkt": "Géométrie vide à la ligne %(row)s (colonne « %(column)s ») : remplissez-la ou retirez la ligne.",
    },
    "invalid_coordinate": {
        "one_coordinate": "Une seule coordonnée à la ligne %(row)s : la colonne « %(column)s » est vide. "
                          "Remplissez-la ou retirez la ligne.",
        "empty_cell": "Ligne %(row)s : la colonne « %(column)s » est vide. Écrivez-y la coordonnée, ou retirez la "
                      "ligne.",
        "not_a_number": "Ligne %(row)s : la colonne « %(column)s » contient « %(value)s », qui n'est pas un nombre. "
                        "Écrivez un nombre avec les chiffres 0 à 9 (par exemple 50,4108), sans lettre ni symbole.",
        "thousands_points": "Ligne %(row)s : la colonne « %(column)s » contient « %(value)s », dont les milliers "
                            "sont séparés par des points : écrivez-le sans ces points (%(written)s).",
        "spaced_number": "Ligne %(row)s : la colonne « %(column)s » contient « %(value)s » : une espace ne peut "
                         "séparer que des groupes de trois chiffres (155 349). Retirez-la.",
    },
    # a CSV column holding both coordinates (« 50.4108, 4.4446 »): its cell could not be read;
    # several positions typed in the map form's coordinates field, one per line (typed_line), or
    # WKT (services/coordinates.py read_place)
    "unreadable_coordinates": {
        "typed_line": "Ligne %(line)s : « %(value)s » n'est pas une position lisible. Écrivez une position par ligne : "
                      "la latitude puis la longitude (par exemple 50.4108, 4.4446), des degrés-minutes-secondes ou "
                      "des coordonnées Lambert x y.",
        "typed_wkt": "Le texte WKT n'est pas lisible (caractère %(character)s) : écrivez par exemple "
                     "POLYGON((4.44 50.41, 4.45 50.41, 4.45 50.42, 4.44 50.41)), la longitude avant la latitude, "
                     "ou une position par ligne.",
        "wkt_type": "Seuls POINT, LINESTRING et POLYGON peuvent être saisis ici : envoyez les autres géométries "
                    "dans un fichier (page « Importer un fichier »).",
        "wkt_position": "Position %(position)s du WKT (« %(value)s ») : elle n'est pas lisible. Écrivez la longitude "
                        "puis la latitude, ou des coordonnées Lambert x y.",
        "too_many_lines": "Au plus %(limit)s lignes peuvent être saisies : envoyez une forme plus longue dans un "
                          "fichier (page « Importer un fichier »).",
        "position_cell": "Ligne %(row)s : la colonne « %(column)s » contient « %(value)s », qui n'est pas une position "
                         "lisible. Écrivez la latitude puis la longitude (par exemple 50.4108, 4.4446), ou des "
                         "coordonnées Lambert x y.",
    },
    "ambiguous_coordinates": {
        "typed_line": "Ligne %(line)s : « %(value)s » désigne un lieu desservi dans les deux ordres, et les autres "
                      "lignes ne disent pas lequel. Précisez-le, par exemple « lat 50.41 lon 4.44 » ou « x=… y=… ».",
        "position_cell": "Ligne %(row)s : « %(value)s » (colonne « %(column)s ») désigne un lieu desservi dans les deux "
                         "ordres. Précisez-le, par exemple « lat 50.41 lon 4.44 » ou « x=… y=… ».",
    },
    "outside_service_area": {
        "typed_line": "Ligne %(line)s : la position « %(value)s » ne tombe dans aucune commune desservie. Vérifiez-la.",
        "wkt_position": "Position %(position)s du WKT (« %(value)s ») : elle ne tombe dans aucune commune desservie. "
                        "Vérifiez-la (la longitude s'écrit avant la latitude).",
        "position_cell": "Ligne %(row)s : la position « %(value)s » (colonne « %(column)s ») ne tombe dans aucune "
                         "commune desservie, dans aucun des deux ordres. Vérifiez-la.",
        # a MultiPoint's point, a MultiLineString's or MultiPolygon's part lying apart from the
        # communes, or reaching past the margin (``part_number`` 1-based, ``where`` its pointer)
        "shape_point": "Point %(part_number)s de la forme : il ne tombe dans aucune commune desservie. Vérifiez ses "
                       "coordonnées ou retirez-le.",
        "shape_point_hinted": "Point %(part_number)s de la forme : il ne tombe dans aucune commune desservie.",
        "shape_part_apart": "Partie %(part_number)s de la forme : elle ne tombe dans aucune commune desservie. "
                            "Vérifiez ses coordonnées ou retirez-la.",
        "shape_part_apart_hinted": "Partie %(part_number)s de la forme : elle ne tombe dans aucune commune desservie.",
        "shape_part_beyond": "Partie %(part_number)s de la forme : elle s'étend trop loin hors des communes "
                             "desservies. Vérifiez ses coordonnées ou retirez-la.",
        # the same with a hint (HINTS_FR, said after it): the other order would be in a commune
        "position_cell_hinted": "Ligne %(row)s : la position « %(value)s » (colonne « %(column)s ») ne tombe dans "
                                "aucune commune desservie.",
    },
    # the address search asked while no geocoder is configured (the map form does not show it then)
    "geocoder_unavailable": {
        "off": "La recherche d'adresse n'est pas activée sur ce service : saisissez des coordonnées ou dessinez sur la "
               "carte.",
    },
    # several positions typed one per line, asked to make a zone: too few of them
    "ring_too_short": {
        "typed_zone": "Une zone demande au moins trois positions différentes, une par ligne : "
                      "ajoutez-en, ou choisissez « Tronçon de route ».",
    },
    "unsupported_crs": {
        "typed_line": "Ligne %(line)s : « %(value)s » nomme un système de coordonnées non accepté. Écrivez en WGS 84, "
                      "Lambert 72 ou Lambert 2008.",
        # a KML or GPX file sent with another crs than WGS 84: files._read_ogr_layers
        "wgs84_only_format": "Un fichier KML ou GPX est toujours en WGS 84 (longitude/latitude) : choisissez « WGS 84 » "
                             "comme système de coordonnées, ou envoyez les données en GeoJSON, CSV, GeoPackage ou "
                             "Shapefile pour un autre système.",
    },
    # a status move that needs a text (its kind: the transition's ``text``), sent without one
    "reason_required": {
        "reason": "Écrivez le motif : la commune le lit avec le signalement.",
        "question": "Écrivez la question à poser à la commune : elle la lit avec le signalement.",
        "answer": "Écrivez votre réponse au référent : elle lui revient avec le signalement.",
        "note": "Écrivez la note de l'opérateur : ce qui a été fait, ou pourquoi rien ne peut l'être.",
    },
}


#: A placeholder of a kind's message (``%(row)s``): a member of the refusal.
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def kind_message(code: str, kind: str | None, extra: dict[str, Any] | None = None) -> str | None:
    """Return the message of a refusal's ``kind`` (:data:`KIND_MESSAGES_FR`) in the current
    language, its ``%(name)s`` filled from the refusal's members of that name (``extra``: the
    error's ``extra`` or problem document; whole numbers written the language's way); None
    when its kind has none, or when a member it names is missing. A refusal with a ``hint``
    (:func:`hint_message`) whose kind has a ``<kind>_hinted`` sentence: that one, then the hint."""
    if (extra and extra.get("hint") and (hint := hint_message(extra)) is not None
            and (placed := kind_message(code, f"{kind}_hinted", {**extra, "hint": None})) is not None):
        return placed + " " + hint  # a kind whose sentence leaves room for the hint (HINTS_FR)
    french = KIND_MESSAGES_FR.get(code, {}).get(kind or "")
    if not french:
        return None
    names = _PLACEHOLDER.findall(french)
    if not names:
        return _(french)
    extra = extra or {}
    if not all(extra.get(name) is not None for name in names):
        return None
    return _(french, **{name: _figure(extra[name], "int" if isinstance(extra[name], int) else "text")
                        for name in names})


#: What an ``outside_service_area`` refusal adds when it guessed why (its ``hint``):
#: ``{commune}`` where the place would be, ``{crs}`` the coordinate system it looks like
#: (:data:`HINT_CRS_FR`), ``{order}`` the axes' order when they look swapped too.
HINTS_FR: dict[str, str] = {
    "axes_swapped": "Les deux coordonnées semblent inversées : dans l'autre ordre, ce lieu serait à {commune}. "
                    "Vérifiez l'ordre (longitude puis latitude, ou les colonnes) ; rien n'a été inversé.",
    # the same for Lambert metres (the refusal's ``axes_order`` ``x_y``)
    "axes_swapped_xy": "Les deux coordonnées semblent inversées : dans l'autre ordre, ce lieu serait à {commune}. "
                       "Vérifiez l'ordre (x, vers l'est, puis y, vers le nord, ou les colonnes) ; rien n'a été "
                       "inversé.",
    "other_crs": "Ces coordonnées ressemblent à du {crs} : elles placeraient ce lieu à {commune}. Choisissez ce "
                 "système de coordonnées{order} ; rien n'a été converti.",
    "order": " et donnez d'abord x (ou la longitude)",
    # the same in a KML or GPX file, which holds WGS 84 only (the refusal's ``wgs84_only``)
    "wgs84_only": "Ces coordonnées ressemblent à du {crs} : elles placeraient ce lieu à {commune}. Un fichier KML "
                  "ou GPX est toujours en WGS 84 (longitude/latitude) : exportez-le à nouveau en WGS 84, ou envoyez "
                  "les données en GeoJSON, CSV, GeoPackage ou Shapefile dans ce système ; rien n'a été converti.",
}
#: The coordinate systems a hint may name (the upload page's choices).
HINT_CRS_FR: dict[str, str] = {
    "EPSG:4326": "WGS 84 (longitude/latitude, EPSG:4326)",
    "EPSG:31370": "Lambert belge 72 (EPSG:31370)",
    "EPSG:3812": "Lambert belge 2008 (EPSG:3812)",
}


def hint_message(extra: dict[str, Any]) -> str | None:
    """Return the sentence an ``outside_service_area`` refusal adds when it guessed why
    (:data:`HINTS_FR`, current language), from its ``hint``, ``swapped_commune`` (and
    ``axes_order`` ``x_y`` for Lambert metres) or
    ``suggested_commune`` / ``suggested_crs`` / ``axes_swapped``; None without a hint."""
    hint = extra.get("hint")
    if hint == "axes_swapped" and isinstance(extra.get("swapped_commune"), dict):
        which = "axes_swapped_xy" if extra.get("axes_order") == "x_y" else "axes_swapped"
        return _(HINTS_FR[which]).replace("{commune}", str(extra["swapped_commune"].get("name", "")))
    if hint and isinstance(extra.get("suggested_commune"), dict) and extra.get("suggested_crs") in HINT_CRS_FR:
        if extra.get("wgs84_only"):
            return (_(HINTS_FR["wgs84_only"]).replace("{crs}", _(HINT_CRS_FR[extra["suggested_crs"]]))
                    .replace("{commune}", str(extra["suggested_commune"].get("name", ""))))
        order = _(HINTS_FR["order"]) if extra.get("axes_swapped") else ""
        return (_(HINTS_FR["other_crs"]).replace("{crs}", _(HINT_CRS_FR[extra["suggested_crs"]]))
                .replace("{commune}", str(extra["suggested_commune"].get("name", ""))).replace("{order}", order))
    return None


def specific_message(code: str, where: str | None, extra: dict[str, Any]) -> str | None:
    """Return the sentence of one refusal that its code alone does not say well enough, in the
    current language, from what the error carries (the field it concerns, ``character``,
    ``value``, ``limit``, ``kind``); None when the code's own message says it. Each sentence
    says what to do."""
    from geosignal.i18n import format_number

    field = _field_name(where)
    kind = extra.get("kind")
    if (by_kind := kind_message(code, kind, extra)) is not None:
        return by_kind
    if code == "not_your_commune" and extra.get("commune_name") and extra.get("commune_nis"):
        return _("La forme se trouve surtout à %(commune)s (%(nis)s), pas dans votre commune : dessinez-la dans "
                 "votre commune.", commune=extra["commune_name"], nis=extra["commune_nis"])
    if code == "outside_service_area" and (hint := hint_message(extra)) is not None:
        return _(TITLES_FR[code]) + " " + hint
    if code == "invalid_attribute":
        if kind == "ambiguous_separator" and (readings := formparse.ambiguous_readings(extra.get("value"))):
            # « 1,000 »: 1000 or 1.0? (as the speed-test form says it)
            from geosignal.i18n import field_label

            thousands, decimal, decimals = readings
            return _("%(field)s : « %(value)s » se lit %(thousands)s ou %(decimal)s : écrivez le nombre sans "
                     "séparateur de milliers.", field=field_label(field), value=extra["value"],
                     thousands=str(thousands), decimal=format_number(decimal, decimals))
        if isinstance(extra.get("allowed"), list) and field in contract.BY_NAME:
            # a vocabulary property: its name, and the values it takes as the pages name them
            from geosignal.i18n import field_label, label

            values = ", ".join(label(v) for v in extra["allowed"])
            return _("%(field)s : choisissez parmi %(values)s.", field=field_label(field), values=values)
        if "character" in extra:
            return _("Retirez le caractère %(character)s (un caractère de contrôle, invisible ou qui inverse le "
                     "sens de l'écriture) : geosignal ne l'enregistre pas.", character=extra["character"])
        if field in ("description", "reason") and "limit" in extra:
            if "value" in extra:
                return _("Texte trop long (%(value)s caractères) : raccourcissez-le à %(limit)s caractères au plus.",
                         value=format_number(int(extra["value"])), limit=format_number(int(extra["limit"])))
            return _("Texte trop long : raccourcissez-le à %(limit)s caractères au plus.",
                     limit=format_number(int(extra["limit"])))
        if field in contract.BY_NAME and contract.BY_NAME[field].kind == "count":
            return _("Écrivez un nombre entier de 0 à %(limit)s, en chiffres et sans séparateur.",
                     limit=format_number(contract.MAX_COUNT))
        if field == "radius":
            return _("Rayon : écrivez un nombre de mètres plus grand que 0 (par exemple 250), autour d'un point.")
    if code == "weak_password":
        if kind == "same":
            return _("Le nouveau mot de passe est identique à l'actuel : choisissez-en un différent.")
        if kind == "guessable":
            return _("Mot de passe trop facile à deviner (mot courant, suite de clavier, nom de la commune ou de "
                     "l'adresse) : choisissez une phrase de plusieurs mots sans lien avec vous.")
    if code == "invalid_request":
        if kind == "commune_missing":
            return _("Choisissez la commune de ce·tte représentant·e : un·e représentant·e a exactement une commune.")
        if kind == "commune_not_for_role":
            return _("Seul·e un·e représentant·e a une commune : laissez « Commune » vide pour ce rôle.")
        if kind == "email_taken":
            return _("Un compte existe déjà pour cette adresse : il n'y a rien à inviter. Si la personne a perdu "
                     "son mot de passe, elle utilise « Mot de passe oublié ? ».")
        if kind == "email_too_long":
            return _("Adresse e-mail trop longue (%(value)s caractères) : une adresse a au plus %(limit)s "
                     "caractères.", value=format_number(int(extra.get("value", 0))),
                     limit=format_number(int(extra.get("limit", 254))))
        if kind in ("email_characters", "email_form", "email_domain"):
            return _("Adresse e-mail non valide : écrivez-la comme prenom.nom@commune.be (un seul @, un domaine "
                     "avec un point, sans espace, accent ni caractère invisible).")
        if where in ("from", "to"):  # a period's query parameters (not a body's /to: a transition's status)
            return _("Date illisible ou hors limites : choisissez un jour dans le calendrier (AAAA-MM-JJ).")
        if extra.get("allowed") == sorted(FLAG_WORDS):
            return _("Choix non reconnu : répondez par oui ou non (true/false, 1/0, yes/no, on/off).")
    return None


def error_message(error: GeosignalError) -> str:
    """Return what a person reads about an error, in the current language: the code's message
    with the figures the error carries (:data:`MESSAGES_FR`: areas in m² or km², vertices,
    columns) when it has them all, else a sentence for the precise fault when the error says
    which (:func:`specific_message`), else the code's message (:data:`TITLES_FR`). All say
    what to do. A view that knows better passes its own translated text as ``message``."""
    if isinstance(error.extra.get("message"), str):
        return error.extra["message"]
    specific = specific_message(error.code, error.where, error.extra)
    if specific is not None:
        return specific
    params = MESSAGE_PARAMS.get(error.code)
    if params and all(key in error.extra for spec in params.values() for key in (spec[0], *spec[2:])):
        return _(MESSAGES_FR[error.code], **{name: _figure(error.extra[spec[0]], spec[1],
                                                           error.extra[spec[2]] if len(spec) > 2 else None)
                                           for name, spec in params.items()})
    return _(TITLES_FR.get(error.code, error.title))


def code_message(code: str) -> str:
    """Return the message of an error code in the current language (the code itself when
    unknown)."""
    return _(TITLES_FR[code]) if code in TITLES_FR else code


def field_of(error: GeosignalError) -> str:
    """Return the form field an error concerns: ``geometry`` (the shape), ``coordinates``,
    a report property's name (from its JSON pointer ``/properties/<name>…``), or ``form``."""
    if error.where == "coordinates":
        return "coordinates"
    pointer = error.where or ""
    if pointer.startswith("/properties/"):  # a property's value (NaN in a count), whatever the code
        return pointer.split("/")[2]
    if error.code in GEOMETRY_CODES:
        return "geometry"
    return "form"


def _fault_fields(error: GeosignalError) -> list[tuple[str, str]]:
    """(field, code) of each fault of a refused report: the error's own, then every other
    fault listed in ``errors`` (see :func:`field_errors`)."""
    return [(field_of(error), error.code),
            *((_item_field(item), item.get("code", "")) for item in error.extra.get("errors", [])[1:])]


def _item_field(item: dict[str, Any]) -> str:
    """The form field of one fault listed in an error's ``errors``: its ``name``, else the
    property of its pointer, else ``form``."""
    pointer = item.get("pointer") or ""
    return item.get("name") or (pointer.split("/")[2] if pointer.startswith("/properties/") else "form")


def field_codes(error: GeosignalError) -> dict[str, str]:
    """Return the code of the (first) fault of each field of a refused report, ``{field:
    code}`` (a form's field says its own code: a date in the future with a count unreadable is
    ``invalid_datetime`` beside ``invalid_attribute``)."""
    out: dict[str, str] = {}
    for name, code in _fault_fields(error):
        out.setdefault(name, code)
    return out


def field_labels(names: Any) -> list[str]:
    """The labels of report properties (``names``, in their order) in the current language:
    the contract's, « Lieu » for the geometry (or its coordinates), the name itself otherwise."""
    from geosignal.i18n import field_label

    return [field_label(n) if n in contract.BY_NAME else _("Lieu") if n in ("geometry", "coordinates") else n
            for n in names]


def refusal_summary(error: GeosignalError) -> str:
    """Return what the top of a page says of a refused report, in the current language: the
    error's message when it has one fault, else how many fields are to be corrected and their
    names (each field says its own fault beside it)."""
    names = list(dict.fromkeys(name for name, _code in _fault_fields(error)))
    if len(names) < 2:
        return error_message(error)
    labels = field_labels(names)
    return ngettext("%(num)s champ à corriger : %(fields)s (le message est sous chacun).",
                    "%(num)s champs à corriger : %(fields)s (le message est sous chacun).", len(labels),
                    fields=", ".join(labels))


def field_errors(error: GeosignalError) -> dict[str, list[str]]:
    """Return the messages of a refused report in the current language, by the field they
    concern (see :func:`field_of`); every fault listed in ``errors`` (attributes refused
    together) too."""
    out: dict[str, list[str]] = {field_of(error): [error_message(error)]}
    for item in error.extra.get("errors", [])[1:]:
        name, code = _item_field(item), item.get("code", "")
        specific = specific_message(code, item.get("pointer") or name, item)
        out.setdefault(name, []).append(specific or (code_message(code) if code in TITLES_FR else item.get("detail", "")))
    return out


def preview_columns() -> list[dict[str, str]]:
    """Return the columns of the import preview: the report properties a file may give, with
    their labels (current language) and kinds, ``[{name, label, kind}]`` in contract order
    (the radius is shown as the shape it made)."""
    return [{"name": p.name, "label": _(p.label), "kind": p.kind}
            for p in contract.properties(contract.UPLOAD) if p.name != "radius"]


def popup_fields() -> list[dict[str, str]]:
    """Return the lines of a report's popup on the map, ``[{name, label, kind}]`` in contract
    order, labels in the current language."""
    return [{**f, "label": _(f["label"])} for f in contract.popup_fields()]


def upload_fields() -> list[dict[str, str]]:
    """Return what a file column can be mapped to (upload page), ``[{name, label}]``, labels
    in the current language."""
    return [{**f, "label": _(f["label"])} for f in contract.upload_fields()]


def upload_columns() -> list[dict[str, Any]]:
    """Return the columns a file may have, as the upload page explains them: the coordinate
    columns, then every property of the contract's upload form, ``[{name, label, headers,
    values, kind}]`` in contract order. ``headers`` are the column names the readers accept
    (folded, as :mod:`geosignal.services.intake.properties` matches them: the coordinates'
    ``COORD_ALIASES``, the properties' ``HEADER_ALIASES``); ``values`` the vocabulary of a
    vocabulary property, ``[{code, label}]`` (labels in the current language), else ``[]``."""
    from geosignal.i18n import label
    from geosignal.services.intake.properties import COORD_ALIASES, HEADER_ALIASES

    labels = {f["name"]: f["label"] for f in upload_fields()}
    out: list[dict[str, Any]] = [{"name": key, "label": labels[key], "headers": list(headers), "values": [],
                                  "kind": "coordinate"} for key, headers in COORD_ALIASES.items()]
    for p in contract.properties(contract.UPLOAD):
        out.append({"name": p.name, "label": labels[p.name], "headers": list(HEADER_ALIASES[p.name]),
                    "values": [{"code": v, "label": label(v)} for v in p.vocab], "kind": p.kind})
    return out


def form_fields() -> list[dict[str, Any]]:
    """Return the map form's report fields (:func:`geosignal.contract.form_fields`), labels
    in the current language."""
    return [{**f, "label": _(f["label"])} for f in contract.form_fields()]


def action_label(action: str, target: str | None = None) -> str:
    """Return the button text of a workflow action (:data:`geosignal.workflow.ACTION_LABELS_FR`)
    in the current language; an unknown action gets the label of its ``target`` status."""
    from geosignal.i18n import label

    french = workflow.ACTION_LABELS_FR.get(action)
    return _(french) if french else label(target)


def event_label(action: str, target: str | None = None) -> str:
    """Return what a history or journal line calls an event (a workflow action once done,
    :data:`geosignal.workflow.DONE_LABELS_FR`, or ``create``, ``edit``, ``export``, ``merge``,
    ``split``, or an account's event, :data:`geosignal.services.audit.ACCOUNT_EVENT_LABELS_FR`) in the
    current language."""
    from geosignal.services.audit import ACCOUNT_EVENT_LABELS_FR

    french = (workflow.EVENT_LABELS_FR.get(action) or workflow.DONE_LABELS_FR.get(action)
              or ACCOUNT_EVENT_LABELS_FR.get(action))
    return _(french) if french else action_label(action, target)


def account_event_detail(action: str, details: dict[str, Any]) -> str:
    """Return what a journal line says of an account's event (``action`` of
    :data:`geosignal.services.audit.ACCOUNT_EVENT_LABELS_FR`, its ``details``): the account, and
    how a link was delivered, a password set or a token named, in the current language."""
    from geosignal.i18n import label

    account = _("Compte %(email)s (%(role)s)", email=details.get("account_email") or "?",
                role=label(details.get("account_role") or ""))
    extra = ""
    if action == "reset_link":
        extra = (_("lien envoyé par e-mail à cette adresse") if details.get("delivered") == "mail"
                 else _("lien montré à la personne qui l'a demandé, pour le transmettre"))
    elif action == "password_set":
        how = details.get("how")
        extra = {"change": _("par son titulaire, en connaissant l'ancien"),
                 "invitation": _("en acceptant l'invitation"),
                 "terminal": _("au terminal (geosignal set-password)")}.get(how, "")
        if how == "reset":
            extra = (_("avec un lien donné par %(email)s", email=details["link_by"]) if details.get("link_by")
                     else _("avec un lien demandé depuis « Mot de passe oublié »"))
        if details.get("tokens_revoked"):
            extra += " · " + ngettext("%(num)s jeton API révoqué", "%(num)s jetons API révoqués",
                                      details["tokens_revoked"])
    elif action == "account_create":
        extra = (_("mot de passe à usage unique, à changer à la première connexion")
                 if details.get("password") == "one-time" else _("mot de passe donné au terminal"))
    elif action in ("token_create", "token_revoke"):
        extra = _("jeton « %(name)s »", name=details.get("token_name") or "—")
        if details.get("days"):
            extra += " · " + ngettext("valable %(num)s jour", "valable %(num)s jours", details["days"])
    return account + (" · " + extra if extra else "")


#: What the text that put a report in its status is, shown at the top of its page (the
#: referent's question, the reason of a rejection, the operator's note).
DECISION_LABELS_FR: dict[str, str] = {
    "needs_info": "Question du référent",
    "rejected": "Motif du rejet",
    "resolved": "Note de l'opérateur",
    "not_resolved": "Note de l'opérateur",
}


assert set(DECISION_LABELS_FR) == set(workflow.DECISION_STATUSES)  # a label for each, and no other


def decision_label(status: str) -> str:
    """Return the label of the text that put a report in ``status``, in the current language."""
    return _(DECISION_LABELS_FR[status])


def text_label(kind: str) -> str:
    """Return the label of the text field a transition requires (``reason``, ``question``,
    ``answer``, ``note``) in the current language."""
    return _(workflow.TEXT_LABELS_FR[kind])


def zone_state_label(state: str) -> str:
    """Return the label of a zone state (``proposed``, ``confirmed``) in the current language."""
    french = ZONE_STATES_FR.get(state)
    return _(french) if french else state


def evidence_label(name: str) -> str:
    """Return the label of a speed-test field (:data:`EVIDENCE_FIELDS_FR`) in the current
    language (``KeyError`` for another name)."""
    return _(EVIDENCE_FIELDS_FR[name])


def published_indicator(indicator: str) -> str:
    """Return the label of a published survey indicator in the current language."""
    french = SURVEY_INDICATORS_FR.get(indicator)
    return _(french) if french else indicator


def queue_summary(total: int, shown: int) -> str:
    """Return the validation queue's counter in the current language (the script writes the
    same from its catalogue: ``loaded_one`` or ``loaded_other`` by :func:`~geosignal.i18n.plural_form`)."""
    return _(QUEUE_MESSAGES[f"loaded_{plural_form(total)}"], total=total, shown=shown)


def in_sentence(label: str) -> str:
    """Return a label as written inside a sentence: its first letter lowered (« Transmis à
    DWconnect » → « transmis à DWconnect »), the rest kept (names, acronyms); a label that
    opens on an acronym (« FWA », « DSL (cuivre) ») is kept whole."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


#: What a report's form and the notice after filing say when a technology chosen is not of the
#: network chosen (intake's ``technology_not_of_network`` warning, :data:`vocab.NETWORK_TECHNOLOGIES`).
NETWORK_MISMATCH_FR = "À vérifier : %(technologies)s n'est pas une technologie du réseau %(network)s."


def network_mismatch_sentence(network: str, technologies: list[str]) -> str:
    """Return the sentence saying that ``technologies`` are not of ``network`` (current
    language; the technologies' labels joined with commas, the network's label in the sentence)."""
    from geosignal.i18n import label

    return _(NETWORK_MISMATCH_FR) % {"technologies": ", ".join(label(t) for t in technologies),
                                     "network": in_sentence(label(network))}


def network_check() -> dict[str, Any]:
    """Return what the report form's script needs to say the same sentence as
    :func:`network_mismatch_sentence` as soon as the network and technologies are chosen:
    ``{"technologies": {network: [technology, …]}`` (the rule, :data:`vocab.NETWORK_TECHNOLOGIES`),
    ``"networks": {network: label in a sentence}``, ``"labels": {technology: label}``,
    ``"sentence"``: the sentence with its ``%(technologies)s`` and ``%(network)s`` to fill}``,
    texts in the current language."""
    from geosignal.i18n import label

    return {"technologies": {n: list(ts) for n, ts in vocab.NETWORK_TECHNOLOGIES.items()},
            "networks": {n: in_sentence(label(n)) for n in vocab.NETWORKS},
            "labels": {t: label(t) for t in vocab.TECHNOLOGIES},
            "sentence": _(NETWORK_MISMATCH_FR)}


def colon(lang: str | None = None) -> str:
    """Return what separates a label from its value in ``lang`` (default: the current
    language): ``" : "`` in French (a space before the colon), ``": "`` in Dutch and English.
    The pages' scripts read the same from their catalogue (``colon``)."""
    from geosignal.i18n import language

    return " : " if (lang or language()) == "fr" else ": "


def percent_sign(lang: str | None = None) -> str:
    """Return what follows a percentage in ``lang`` (default: the current language): ``"\\u00a0%"``
    in French (a no-break space before the sign, so a line never ends before it), ``"%"`` in
    Dutch and English (CLDR: ``12,5%``, ``12.5%``). The pages' scripts read the same from their catalogue (``percent``)."""
    from geosignal.i18n import language

    return "\u00a0%" if (lang or language()) == "fr" else "%"


def list_separator(lang: str | None = None) -> str:
    """Return what separates the items of a list of remarks in ``lang`` (default: the current
    language): ``" ; "`` in French (a space before the semicolon), ``"; "`` in Dutch and
    English. The pages' scripts read the same from their catalogue (``separator``)."""
    from geosignal.i18n import language

    return " ; " if (lang or language()) == "fr" else "; "


#: Belgium's provinces as the communes' data names them (French) → how a sheet names each, in
#: French with its article (« province du Hainaut », « province d'Anvers »; Brussels is a
#: region, not a province), translated where shown.
PROVINCES_FR: dict[str, str] = {
    "Anvers": "province d'Anvers", "Brabant flamand": "province du Brabant flamand",
    "Brabant wallon": "province du Brabant wallon", "Flandre occidentale": "province de Flandre-Occidentale",
    "Flandre orientale": "province de Flandre-Orientale", "Hainaut": "province du Hainaut",
    "Limbourg": "province du Limbourg", "Liège": "province de Liège", "Luxembourg": "province de Luxembourg",
    "Namur": "province de Namur", "Région de Bruxelles-Capitale": "Région de Bruxelles-Capitale",
}


def province_label(name: str) -> str:
    """Return how a commune's sheet names its province ``name`` (French, as the communes' data
    gives it: ``"Hainaut"``) in the current language: « province du Hainaut », « provincie
    Henegouwen », "province of Hainaut"; the Brussels-Capital Region as a region. A name not
    known is shown as it is."""
    return _(PROVINCES_FR[name]) if name in PROVINCES_FR else name


def neighbour_zone_note() -> str:
    """Return why a commune shows a white zone beside no report of its own (a zone filed in a
    neighbour commune reaching over its territory), in the current language: the dashboard's
    note, without its « * » (a commune sheet's asterisk is the estimate's)."""
    return _(DASHBOARD_MESSAGES["neighbour_zone_note"]).removeprefix("* ")


def estimate_note(year: int | None) -> str:
    """Return the note on the estimate of inhabitants affected (population of ``year``), in
    the current language."""
    return _(DASHBOARD_MESSAGES["estimate_note"]).replace("{year}", str(year or "?"))
