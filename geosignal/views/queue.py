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

from geosignal import policy, ui_text, vocab, workflow
from geosignal.auth import current, require_policy
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.services import communes as communes_service
from geosignal.services import queue as queue_service
from geosignal.views.api import json_body, refuse_unknown_members

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


#: The referent's decisions the queue offers, in this order (the transition table says from
#: which statuses, for whom, and what text each needs).
QUEUE_TARGETS: tuple[str, ...] = ("validated", "needs_info", "rejected")
#: The members of a bulk transition's body (any other is refused).
BULK_MEMBERS = frozenset({"ids", "to", "reason", "etags"})
#: Longest list of ids one bulk request may move.
MAX_BULK = 1000
_ZERO = "00000000-0000-0000-0000-000000000000"


def _queue_actions(user: Any) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Return the queue's action buttons (one per target: label, text required, prompt) and,
    per status, the targets ``user`` may move a report to (from the transition table)."""
    buttons = []
    for target in QUEUE_TARGETS:
        transition = next((t for t in workflow.TRANSITIONS if t.target == target), None)
        if transition is None:
            continue
        prompt = ui_text.QUEUE_PROMPTS.get(transition.text or "", {"prompt": "", "confirm": ""})
        buttons.append({"target": target, "label": ui_text.action_label(transition.action, target),
                        "text": transition.text or "", "prompt": _(prompt["prompt"]) if prompt["prompt"] else "",
                        "confirm": _(prompt["confirm"]) if prompt["confirm"] else ""})
    by_status = {status: [t.target for t in policy.allowed_transitions(user, None, status)
                          if t.target in QUEUE_TARGETS] for status in vocab.STATUSES}
    return buttons, by_status


def _url(endpoint: str, fallback: str, **values: Any) -> str:
    """``url_for(endpoint, **values)`` when the endpoint exists, else ``fallback``."""
    if endpoint in current_app.view_functions:
        return url_for(endpoint, **values)
    return fallback


@bp.get("/validation")
@login_required
@require_policy(may_use_queue, QUEUE_DENIED)
def queue_page() -> tuple[str, int]:
    """The referent's validation queue: filters, the list (cards on a phone), the selected
    report's shape on a map beside it, actions without reloading the page, bulk validation.

    The first page is rendered here from the same service as ``GET /api/v1/queue``;
    ``static/js/queue.js`` then filters, pages and acts through the API. Bad filters show
    the default queue with the reason (status 400 or 422).
    """
    session = get_session()
    try:
        page = _page()
        error = None
    except GeosignalError as failure:
        if failure.status >= 500:
            raise
        session.rollback()
        page = queue_service.read_queue(session)
        error = failure
    communes = communes_service.commune_choices(session)
    buttons, by_status = _queue_actions(current())
    page_html = render_template(
        "queue.html", page=page, filters=page.filters, communes=communes, error=error,
        statuses=vocab.STATUSES, default_statuses=queue_service.DEFAULT_STATUSES,
        filed_statuses=workflow.FILED_STATUSES,
        count_fields=queue_service.COUNT_FIELDS, sorts=queue_service.SORTS, queue_actions=buttons, actions_by_status=by_status, actions_json=json.dumps(by_status),
        decision_labels={status: ui_text.decision_label(status) for status in workflow.DECISION_STATUSES},
        api_url=url_for("queue.queue_api"), bulk_url=url_for("queue.bulk_transition"),
        transition_url=_url("api.post_transition", f"/api/v1/reports/{_ZERO}/transitions", report_id=_ZERO),
        report_api=url_for("api.get_report", report_id=_ZERO),
        report_page=_url("report_pages.report_page", "", report_id=_ZERO),
    )
    return page_html, (error.status if error else 200)


@bp.post("/api/v1/reports/transitions")
@require_policy(may_use_queue, QUEUE_DENIED)
def bulk_transition() -> Response:
    """Move many reports at once (bulk validation): body ``{"ids": [...], "to": "validated",
    "reason": "…", "etags": {id: ETag}}`` (1 to 1000 ids; ``reason`` when the move needs one;
    ``etags``, optional, the ETag of each report as read: one changed since is refused with
    ``precondition_failed`` and its current ``etag``). The body is read as
    strictly as the single report's transitions endpoint: any other member is 400
    ``invalid_request`` naming it (``where`` ``/extra``), and nothing moves.

    Set-wise (:func:`geosignal.services.workflow.transition_many`: one lock query, one
    statement moving and journalling them all). Every report that may move does; when some
    cannot, the answer is 409 ``invalid_transition`` listing them in ``refused`` (each with
    ``id``, ``code`` — ``invalid_transition``, ``forbidden``, ``not_found`` or
    ``precondition_failed`` — and its current ``status``) next to ``moved``; otherwise 200
    ``{"to", "moved", "etags", "refused": []}`` (``etags``: each moved report's new ETag).
    """
    from geosignal.services import workflow as workflow_service

    body = json_body()
    refuse_unknown_members(body, BULK_MEMBERS)
    ids = body.get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BULK or not all(isinstance(i, str) for i in ids):
        raise GeosignalError("invalid_request", f"ids must be a list of 1 to {MAX_BULK} report ids (strings)",
                             where="/ids")
    reason = body.get("reason")
    etags = body.get("etags")
    if etags is not None and (not isinstance(etags, dict) or not all(isinstance(v, str) for v in etags.values())):
        raise GeosignalError("invalid_request", "etags must be an object: report id → the ETag read (a string)",
                             where="/etags")
    session = get_session()
    outcome = workflow_service.transition_many(session, ids, body.get("to"), current(), reason, if_match=etags)
    session.commit()
    if outcome["refused"]:
        error = GeosignalError(
            "invalid_transition", f"{len(outcome['refused'])} of {len(set(ids))} reports could not move to "
            f"{outcome['to']}; " + {0: "none did", 1: "the other one did"}.get(
                len(outcome["moved"]), f"the {len(outcome['moved'])} others did"), **outcome)
        response = jsonify(error.to_problem())
        response.status_code = 409
        response.mimetype = "application/problem+json"
        return response
    return jsonify(outcome)
