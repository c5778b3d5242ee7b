"""Placing a report without drawing, and drawing with feedback: the intake limits, typed
coordinates read by the server, and the address search proxy. Thin views (JSON)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from geosignal import policy
from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.params import parse_commune
from geosignal.ratelimit import limiter
from geosignal.services import communes as communes_service
from geosignal.services import coordinates, drawing, geocoding
from geosignal.services.territory import limits_from_config
from geosignal.views.api import current_service_area

bp = Blueprint("locate", __name__)

#: Address searches allowed per client address (the public Nominatim asks for ≤ 1 per second).
GEOCODE_RATE = "30 per minute"


@bp.get("/api/v1/limits")
def limits() -> Response:
    """The limits a drawn shape is checked against before it is sent: areas (m²), vertices,
    service margin, the territory's box and the commune's boundary (a representative's own;
    ``?commune=NIS`` for the referent and admins). An unknown ``commune`` is refused for
    everyone (422 ``unknown_commune``), as on every other route that takes one."""
    user = current()
    session = get_session()
    asked = parse_commune(session, request.args.get("commune"))
    nis = asked if policy.sees_all_communes(user) else user.commune_nis
    found = communes_service.list_communes(session, nis_codes=[nis]) if nis else []
    return jsonify(drawing.drawing_limits(limits_from_config(current_app.config), current_service_area(),
                                          found[0] if found else None))


@bp.get("/api/v1/coordinates")
def read_coordinates() -> Response:
    """Read typed coordinates (``?q=``): WGS 84 decimal or DMS, Lambert 72 or 2008 → the
    position in EPSG:4326 and its commune; ``ambiguous_coordinates`` lists both readings.
    Several positions, one per line (``shape=line|zone``, the default a line for 2, a zone for
    more), or WKT: the ``geometry`` they make, each fault naming its ``line`` (or WKT
    ``position``) — :func:`geosignal.services.coordinates.read_place`."""
    user = current()
    shape = request.args.get("shape") or None
    if shape is not None and shape not in coordinates.SHAPES:
        raise GeosignalError("invalid_request", f"shape is 'line' or 'zone', not {shape[:40]!r}", where="shape")
    area = current_service_area()
    place = coordinates.read_place(request.args.get("q", ""), area.commune_at, own_commune=user.commune_nis,
                                   shape=shape, near=area.within_margin)
    return jsonify(place.as_dict())


@bp.get("/carte/adresses")
@limiter.limit(GEOCODE_RATE)
def geocode() -> Response:
    """Search an address (``?q=``) with the configured Nominatim-compatible service, within
    the territory's box → ``{"results": [{label, lon, lat, commune}]}``.

    A helper of the map page (it keeps the page's ``connect-src 'self'``), not part of the
    API: answers are JSON, errors problem+json (``geocoder_unavailable`` 503 when the service
    is off or does not answer)."""
    current()
    config = current_app.config
    area = current_service_area()
    west, south, east, north = area.territory_4326.bounds
    results = geocoding.search_address(
        request.args.get("q", ""), base_url=config["GEOCODER_URL"], timeout_s=config["GEOCODER_TIMEOUT_S"],
        bbox=(west - 0.02, south - 0.02, east + 0.02, north + 0.02), commune_at=area.commune_at)
    return jsonify({"results": results})


def place_from_form(text: str, shape: str | None = None) -> dict:
    """Return the GeoJSON geometry (EPSG:4326) of the place typed in a form's coordinates
    field — one position (a Point), several one per line (``shape``: ``line`` or ``zone``) or
    WKT — read as :func:`geosignal.services.coordinates.read_place` reads it (its errors
    raised)."""
    area = current_service_area()
    return coordinates.read_place(text, area.commune_at, own_commune=current().commune_nis, shape=shape or None,
                                  near=area.within_margin).geometry
