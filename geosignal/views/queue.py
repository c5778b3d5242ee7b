"""The referent's validation queue: the page ``/validation``, its JSON twin
``GET /api/v1/queue`` and the bulk transition ``POST /api/v1/reports/transitions``.

Thin views: parse the query (:func:`geosignal.services.queue.parse_queue_args`), authorise
(referent, admin), call one service, render or serialise. The page and the API read the same
page of the same service with the same filters.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from geosignal import policy, vocab
from geosignal.auth import current, require_policy
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.models import Commune
from geosignal.services import basemaps
from geosignal.services import queue as queue_service

bp = Blueprint("queue", __name__)

#: Why a representative gets 403 on the queue (the referent and admins decide).
QUEUE_DENIED = "the validation queue is for the referent and admins"


def may_use_queue(user: Any) -> bool:
    """Whether ``user`` opens the validation queue: the referent and admins
    (:func:`geosignal.policy.sees_all_communes`)."""
    return policy.sees_all_communes(user)


def _page() -> queue_service.QueuePage:
    session = get_session()
    filters, limit, cursor = queue_service.parse_queue_args(session, request.args)
    return queue_service.read_queue(session, filters, limit=limit, cursor=cursor)


@bp.get("/api/v1/queue")
@require_policy(may_use_queue, QUEUE_DENIED)
def queue_api() -> Response:
    """The validation queue: reports waiting for a decision, oldest first, one page.

    Query: ``status`` (default ``submitted``; a comma list or ``all``), ``commune`` (NIS code;
    422 ``unknown_commune`` when no such commune is loaded), ``network``, ``operator``,
    ``period`` (``created`` or ``observed``) with ``from`` / ``to`` (inclusive days,
    Brussels time), ``q`` (French full-text search in the descriptions), ``limit`` (1–200,
    default 25), ``cursor`` (``next_cursor`` of the previous page). Answer: ``items``,
    ``total`` (all pages), ``next_cursor`` (null on the last page), ``limit``, ``filters``.
    """
    return jsonify(_page().as_json())


def _messages() -> dict[str, str]:
    """The texts queue.js shows (French source, translated by Flask-Babel)."""
    return {
        "validated": _("Signalement %(ref)s validé."),
        "rejected": _("Signalement %(ref)s rejeté."),
        "needs_info": _("Question envoyée pour le signalement %(ref)s."),
        "bulk_done": _("%(n)s signalements validés."),
        "bulk_partial": _("%(n)s signalements validés ; %(m)s n'ont pas pu l'être (voir la liste)."),
        "not_moved": _("Non validé : statut actuel « %(status)s »."),
        "reason_required": _("Indiquez un motif avant de confirmer."),
        "question_required": _("Écrivez la question avant de l'envoyer."),
        "error": _("L'action a échoué : %(detail)s"),
        "network_error": _("Le serveur ne répond pas ; rien n'a été modifié. Réessayez."),
        "loading": _("Chargement…"),
        "loaded": _("%(total)s signalements en attente ; %(shown)s affichés."),
        "empty": _("Aucun signalement ne correspond à ces filtres."),
        "map_loading": _("Chargement de la forme…"),
        "map_shown": _("Forme du signalement %(ref)s affichée sur la carte."),
        "selected_none": _("Aucun signalement sélectionné"),
        "selected_count": _("%(n)s sélectionnés"),
    }


@bp.get("/validation")
@login_required
@require_policy(may_use_queue, QUEUE_DENIED)
def queue_page() -> str:
    """The referent's validation queue: filters, the list (cards on a phone), the selected
    report's shape on a map beside it, actions without reloading the page, bulk validation.

    The first page is rendered here from the same service as ``GET /api/v1/queue``;
    ``static/js/queue.js`` then filters, pages and acts through the API.
    """
    session = get_session()
    try:
        page = _page()
        error = None
    except GeosignalError as failure:
        if failure.status >= 500:
            raise
        page = queue_service.read_queue(session)
        error = failure
    communes = session.execute(select(Commune.nis_code, Commune.name_fr).order_by(Commune.name_fr)).all()
    layers = [layer.as_dict() for layer in basemaps.layers_from_config(current_app.config)]
    return render_template(
        "queue.html", page=page, filters=page.filters, communes=communes, error=error,
        statuses=vocab.STATUSES, messages=json.dumps(_messages(), ensure_ascii=False),
        base_layers=json.dumps(layers, ensure_ascii=False),
        labels=json.dumps({v: vocab.label(v) for v in (*vocab.STATUSES, *vocab.NETWORKS, *vocab.OPERATORS,
                                                        *vocab.TECHNOLOGIES, *vocab.ISSUES)}, ensure_ascii=False),
        api_url=url_for("queue.queue_api"),
    ), (error.status if error else 200)
