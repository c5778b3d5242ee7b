"""Standard read interfaces: OGC API – Features under /ogc (JSON and HTML), and the OpenAPI 3
description of the API at /api/v1/openapi.json with its HTML page at /api/v1/docs.

Thin views: parse, find who reads, call one service, render JSON or HTML (``f=json`` /
``f=html``, else the ``Accept`` header; JSON by default).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from flask_login import current_user

from geosignal import policy
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.security import public_base_url
from geosignal.services import ogc as ogc_service
from geosignal.services import openapi as openapi_service

bp = Blueprint("ogc", __name__)


def _wants_html() -> bool:
    f = request.args.get("f")
    if f is not None:
        if f not in ("json", "html"):
            raise GeosignalError("invalid_request", "f must be json or html", where="f")
        return f == "html"
    g.negotiated = True  # the answer depends on Accept: said to caches (security: Vary: Accept)
    best = request.accept_mimetypes.best_match(["application/json", "application/geo+json", "text/html"])
    return best == "text/html"


def _viewer() -> ogc_service.Viewer:
    if not current_user.is_authenticated:
        return ogc_service.Viewer()
    return ogc_service.Viewer(signed_in=True, sees_all=policy.sees_all_communes(current_user),
                              commune_nis=current_user.commune_nis)


def _base() -> str:
    return public_base_url() + url_for("ogc.landing").rstrip("/")


def _respond(doc: dict[str, Any], template: str, media_type: str = ogc_service.JSON, **context: Any) -> Response:
    if _wants_html():
        html = render_template(template, doc=doc, **context)
        return Response(html, mimetype="text/html")
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return Response(body, content_type=f"{media_type}; charset=utf-8" if "geo+json" in media_type else media_type)


@bp.get("/ogc", strict_slashes=False)
@bp.get("/ogc/")
def landing() -> Response:
    """OGC API landing page."""
    doc = ogc_service.landing(_base(), public_base_url() + url_for("ogc.openapi_json"),
                              public_base_url() + url_for("ogc.api_docs"))
    return _respond(doc, "ogc_landing.html", page="landing")


@bp.get("/ogc/conformance")
def conformance() -> Response:
    """Conformance classes the OGC API implements."""
    return _respond(ogc_service.conformance(_base()), "ogc_landing.html", page="conformance")


@bp.get("/ogc/collections")
def collections() -> Response:
    """The feature collections: communes and white zones."""
    return _respond(ogc_service.collections(get_session(), _base(), _viewer()), "ogc_collections.html")


@bp.get("/ogc/collections/<collection_id>")
def collection(collection_id: str) -> Response:
    """One feature collection's description and extent."""
    doc = ogc_service.collection(get_session(), _base(), collection_id, _viewer())
    return _respond({"collections": [doc], "links": doc["links"]}, "ogc_collections.html") if _wants_html() \
        else _respond(doc, "ogc_collections.html")


@bp.get("/ogc/collections/<collection_id>/items")
def items(collection_id: str) -> Response:
    """Features of a collection: ``bbox``, ``datetime``, ``limit``, ``offset`` (``next`` links)."""
    query = ogc_service.parse_item_query(request.args.to_dict())
    doc = ogc_service.items(get_session(), _base(), collection_id, query, _viewer(), request.args.to_dict())
    return _respond(doc, "ogc_items.html", ogc_service.GEOJSON, collection_id=collection_id, single=False,
                    columns=ogc_service.columns(doc["features"]))


@bp.get("/ogc/collections/<collection_id>/items/<item_id>")
def item(collection_id: str, item_id: str) -> Response:
    """One feature."""
    doc = ogc_service.item(get_session(), _base(), collection_id, item_id, _viewer())
    if _wants_html():
        return _respond({"type": "FeatureCollection", "features": [doc], "links": doc["links"]},
                        "ogc_items.html", collection_id=collection_id, single=True,
                        columns=ogc_service.columns([doc]))
    return _respond(doc, "ogc_items.html", ogc_service.GEOJSON)


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3 description of /api/v1 and /ogc, generated from the application."""
    doc = openapi_service.build_openapi(current_app.url_map, current_app.view_functions)
    return Response(json.dumps(doc, ensure_ascii=False), content_type=ogc_service.OPENAPI)


@bp.get("/api/v1/docs")
def api_docs() -> Response:
    """The API documentation page, rendered from the OpenAPI description (no CDN)."""
    doc = openapi_service.build_openapi(current_app.url_map, current_app.view_functions)
    return Response(render_template("api_docs.html", doc=doc, operations=openapi_service.operations(doc)),
                    mimetype="text/html")
