"""Address search through a Nominatim-compatible service, proxied by geosignal so that the
pages keep ``connect-src 'self'``. Flask-free.

The service is asked for Belgian results within the territory's box (``countrycodes=be``,
``viewbox`` … ``bounded=1``, ``format=jsonv2``, French names); its answer is read strictly
(a JSON list of objects with finite ``lat`` / ``lon`` and a ``display_name``; at most
:data:`MAX_RESPONSE_BYTES`), and each place is told which commune served holds it.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from geosignal.errors import GeosignalError

#: Longest answer read from the service (bytes).
MAX_RESPONSE_BYTES = 1024 * 1024
#: Results asked for.
RESULTS = 6
#: Sent as User-Agent, as Nominatim's usage policy asks.
USER_AGENT = "geosignal/1 (zones blanches, Charleroi Metropole)"
MIN_QUERY, MAX_QUERY = 3, 200


def check_query(query: Any) -> str:
    """Return the address typed, trimmed; raise ``invalid_request`` (where ``q``) when it is
    missing, shorter than :data:`MIN_QUERY` or longer than :data:`MAX_QUERY` characters, or
    holds control characters."""
    text = query.strip() if isinstance(query, str) else ""
    if not MIN_QUERY <= len(text) <= MAX_QUERY or any(ord(c) < 32 for c in text):
        raise GeosignalError("invalid_request", f"saisissez une adresse de {MIN_QUERY} à {MAX_QUERY} caractères",
                             where="q")
    return text


def request_url(base_url: str, query: str, bbox: tuple[float, float, float, float] | None) -> str:
    """Return the search URL for ``query`` (``bbox`` = west, south, east, north in EPSG:4326)."""
    params: dict[str, Any] = {"q": query, "format": "jsonv2", "limit": RESULTS, "countrycodes": "be",
                              "accept-language": "fr", "addressdetails": 0}
    if bbox is not None:
        west, south, east, north = bbox
        params["viewbox"] = f"{west:.5f},{north:.5f},{east:.5f},{south:.5f}"
        params["bounded"] = 1
    return f"{base_url}{'&' if '?' in base_url else '?'}{urlencode(params)}"


def parse_results(body: bytes, commune_at: Callable[[float, float], tuple[str, str] | None] | None = None
                  ) -> list[dict[str, Any]]:
    """Return the places of a Nominatim ``jsonv2`` answer: ``[{label, lon, lat, commune}]``
    (EPSG:4326; ``commune`` ``{nis_code, name_fr}`` or None outside the communes served).
    Entries without finite coordinates or a name are skipped.

    Raises ``geocoder_unavailable`` when the body is not a JSON list.
    """
    try:
        items = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested deeper than the reader goes
        raise GeosignalError("geocoder_unavailable", "la recherche d'adresse a répondu autre chose que du JSON") from None
    if not isinstance(items, list):
        raise GeosignalError("geocoder_unavailable", "la recherche d'adresse a répondu autre chose qu'une liste")
    out = []
    for item in items[:RESULTS]:
        if not isinstance(item, dict) or not isinstance(item.get("display_name"), str):
            continue
        try:
            lon, lat = float(item.get("lon")), float(item.get("lat"))  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond a double
            continue
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            continue
        found = commune_at(lon, lat) if commune_at is not None else None
        out.append({"label": item["display_name"][:300], "lon": round(lon, 7), "lat": round(lat, 7),
                    "commune": None if found is None else {"nis_code": found[0], "name_fr": found[1]}})
    return out


def search_address(query: str, *, base_url: str, timeout_s: float = 5.0,
                   bbox: tuple[float, float, float, float] | None = None,
                   commune_at: Callable[[float, float], tuple[str, str] | None] | None = None
                   ) -> list[dict[str, Any]]:
    """Return the places matching an address (see :func:`parse_results`), asked of the
    Nominatim-compatible ``base_url`` within ``bbox`` (EPSG:4326: west, south, east, north).

    Raises ``invalid_request`` for a bad query (:func:`check_query`) and
    ``geocoder_unavailable`` (503) when no service is configured, it does not answer within
    ``timeout_s`` seconds, answers with an HTTP error, too much, or not a JSON list.
    """
    text = check_query(query)
    if not base_url:
        raise GeosignalError("geocoder_unavailable", "aucun service de recherche d'adresse n'est configuré",
                             kind="off")
    request = urllib.request.Request(request_url(base_url, text, bbox),
                                     headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (configured http(s) URL)
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise GeosignalError("geocoder_unavailable", f"la recherche d'adresse a répondu HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise GeosignalError("geocoder_unavailable", f"la recherche d'adresse ne répond pas ({exc})") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise GeosignalError("geocoder_unavailable", "la recherche d'adresse a répondu trop longuement")
    return parse_results(body, commune_at)
