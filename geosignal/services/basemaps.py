"""Base maps: the background layers offered under every map (XYZ tiles, WMS, WMTS).

Flask-free and import-light. The layers come from two settings (:mod:`geosignal.config`):

* ``BASEMAPS``: a JSON list of layers, each an object with ``name`` (shown in the layer
  switcher), ``type`` (``xyz``, ``wms`` or ``wmts``), ``url`` and ``attribution``; for
  ``wms`` also ``layers`` (and optionally ``format``, ``transparent``, ``styles``,
  ``version``); for ``wmts`` ``layer`` and ``tilematrixset`` (and optionally ``format``,
  ``style``); optional ``min_zoom`` / ``max_zoom`` for all. Unset (the default) means the
  standard set (:data:`STANDARD_LAYERS`) when ``TILE_URL`` is set, and no base map when it is
  empty (an intranet without a tile server). ``[]`` means no base map at all.
* ``TILE_URL`` / ``TILE_ATTRIBUTION`` (kept from before): an XYZ template that, when set,
  becomes the first layer (replacing a listed layer with the same URL).

WMS and WMTS layers are requested in EPSG:3857 (Leaflet's web Mercator), which the Walloon
public service (SPW) serves. Every layer's origin is added to the pages'
Content-Security-Policy ``img-src`` (:func:`csp_origins`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

KINDS: tuple[str, ...] = ("xyz", "wms", "wmts")

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
#: The Walloon public service's PICC (digital topographic map) as WMS, EPSG:3857.
PICC_WMS_URL = "https://geoservices.wallonie.be/arcgis/services/TOPOGRAPHIE/PICC_VDIFF/MapServer/WMSServer"
PICC_WMS_LAYERS = "1,3,4,5,7,9,10,11,12,13,14,16,17,19,21,22,23,24,26,27,28,29,31"
#: Its latest orthophoto campaign as WMS, EPSG:3857.
ORTHO_WMS_URL = "https://geoservices.wallonie.be/arcgis/services/IMAGERIE/ORTHO_LAST/MapServer/WMSServer"


@dataclass(frozen=True)
class BaseLayer:
    """One background layer. ``url`` is an XYZ template (``{z}/{x}/{y}``, optional ``{s}``)
    for ``xyz`` and ``wmts`` (built from the WMTS parameters), the service URL for ``wms``."""

    name: str
    kind: str
    url: str
    attribution: str
    layers: str = ""
    format: str = "image/png"
    transparent: bool = False
    styles: str = ""
    version: str = "1.3.0"
    min_zoom: int = 0
    max_zoom: int = 19

    def as_dict(self) -> dict[str, Any]:
        """Return the layer as a plain mapping (what the pages receive)."""
        return asdict(self)


#: The names geosignal gives its own layers (French; the pages show them in the reader's
#: language). A name set in ``BASEMAPS`` is shown as written.
NAMES_FR: dict[str, str] = {
    "picc": "Plan PICC (SPW)",
    "ortho": "Photo aérienne (SPW)",
    "tiles": "Fond de carte",
}

#: The standard set: OpenStreetMap, then the SPW's PICC and orthophotos (WMS, EPSG:3857).
STANDARD_LAYERS: tuple[BaseLayer, ...] = (
    BaseLayer("OpenStreetMap", "xyz", OSM_URL, OSM_ATTRIBUTION, max_zoom=19),
    BaseLayer(NAMES_FR["picc"], "wms", PICC_WMS_URL, "PICC © Service public de Wallonie (SPW)",
              layers=PICC_WMS_LAYERS, format="image/png", max_zoom=20),
    BaseLayer(NAMES_FR["ortho"], "wms", ORTHO_WMS_URL,
              "Orthophotos © Service public de Wallonie (SPW)", layers="0", format="image/jpeg", max_zoom=20),
)

_ALLOWED_KEYS = {"name", "type", "url", "attribution", "layers", "format", "transparent", "styles", "version",
                 "min_zoom", "max_zoom", "layer", "tilematrixset", "style"}


def _check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{where}: url must be a non-empty string")
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.netloc or "{" in parts.netloc:
        raise ValueError(f"{where}: url must be an http(s) URL with a host, not {url!r}")
    return url.strip()


def _zoom(value: Any, default: int, where: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24:
        raise ValueError(f"{where} must be a whole number from 0 to 24, not {value!r}")
    return value


def parse_layer(item: Any, index: int) -> BaseLayer:
    """Return the :class:`BaseLayer` described by one entry of ``BASEMAPS``.

    Raises ``ValueError`` naming the entry (``BASEMAPS[2]``) and the member at fault: an
    unknown type or member, a URL without http(s) scheme or host, a WMS without ``layers``, a
    WMTS without ``layer`` / ``tilematrixset``, an XYZ template without ``{z}``, ``{x}``, ``{y}``.
    """
    where = f"BASEMAPS[{index}]"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be an object")
    unknown = set(item) - _ALLOWED_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown member(s) {', '.join(sorted(unknown))}")
    kind = item.get("type", "xyz")
    if kind not in KINDS:
        raise ValueError(f"{where}.type must be one of {', '.join(KINDS)}, not {kind!r}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}.name must be a non-empty string")
    attribution = item.get("attribution", "")
    if not isinstance(attribution, str):
        raise ValueError(f"{where}.attribution must be a string")
    url = _check_url(item.get("url"), where)
    fmt = item.get("format", "image/png")
    common = {"name": name.strip(), "attribution": attribution, "format": str(fmt),
              "min_zoom": _zoom(item.get("min_zoom"), 0, f"{where}.min_zoom"),
              "max_zoom": _zoom(item.get("max_zoom"), 19, f"{where}.max_zoom")}
    if kind == "xyz":
        if not all(p in url for p in ("{z}", "{x}", "{y}")):
            raise ValueError(f"{where}: an xyz url must contain {{z}}, {{x}} and {{y}}")
        return BaseLayer(kind=kind, url=url, **common)
    if kind == "wms":
        layers = item.get("layers")
        if not isinstance(layers, str) or not layers.strip():
            raise ValueError(f"{where}.layers must name the WMS layer(s), e.g. \"0\" or \"1,3,4\"")
        return BaseLayer(kind=kind, url=url, layers=layers.strip(), transparent=bool(item.get("transparent", False)),
                         styles=str(item.get("styles", "")), version=str(item.get("version", "1.3.0")), **common)
    layer, matrix_set = item.get("layer"), item.get("tilematrixset")
    if not isinstance(layer, str) or not layer or not isinstance(matrix_set, str) or not matrix_set:
        raise ValueError(f"{where}: a wmts layer needs \"layer\" and \"tilematrixset\" (EPSG:3857)")
    query = urlencode({"SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": layer,
                       "STYLE": item.get("style", "default"), "TILEMATRIXSET": matrix_set, "FORMAT": fmt})
    template = f"{url}{'&' if '?' in url else '?'}{query}&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}"
    return BaseLayer(kind="wmts", url=template, **common)


def parse_layers(value: Any) -> tuple[BaseLayer, ...] | None:
    """Return the layers of a ``BASEMAPS`` value: a JSON text or an already decoded list.

    ``None`` or ``""`` → None (unset: see :func:`layers_from_config`); ``[]`` → no layer.
    Raises ``ValueError`` for text that is not JSON, a value that is not a list, or a faulty
    entry (:func:`parse_layer`), and for two layers with the same name.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"BASEMAPS is not JSON: {exc}") from None
    if not isinstance(value, list | tuple):
        raise ValueError("BASEMAPS must be a JSON list of layers")
    layers = tuple(item if isinstance(item, BaseLayer) else parse_layer(item, i) for i, item in enumerate(value))
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        raise ValueError("BASEMAPS: two layers have the same name")
    return layers


def layers_from_config(config: Mapping[str, Any]) -> tuple[BaseLayer, ...]:
    """Return the base layers of an application's configuration, in switcher order.

    ``TILE_URL`` (an XYZ template; ``TILE_ATTRIBUTION``), when set, comes first, replacing a
    layer of ``BASEMAPS`` with the same URL; ``BASEMAPS`` unset means the standard set when
    ``TILE_URL`` is set and nothing otherwise. Raises ``ValueError`` as :func:`parse_layers`.
    """
    listed = parse_layers(config.get("BASEMAPS"))
    tile_url = (config.get("TILE_URL") or "").strip()
    if listed is None:
        listed = STANDARD_LAYERS if tile_url else ()
    if not tile_url:
        return tuple(listed)
    first = BaseLayer(NAMES_FR["tiles"] if tile_url != OSM_URL else "OpenStreetMap", "xyz",
                      _check_url(tile_url, "TILE_URL"), config.get("TILE_ATTRIBUTION") or "")
    return (first, *(layer for layer in listed if layer.url != tile_url and layer.name != first.name))


def named(layers: tuple[BaseLayer, ...], translate: Any) -> tuple[BaseLayer, ...]:
    """Return ``layers`` with geosignal's own names (:data:`NAMES_FR`) passed through
    ``translate`` (a gettext); other names, and everything else, unchanged."""
    own = set(NAMES_FR.values())
    return tuple(replace(layer, name=translate(layer.name)) if layer.name in own else layer for layer in layers)


#: The subdomains Leaflet fills a ``{s}`` with (its tile layers' default ``subdomains``).
LEAFLET_SUBDOMAINS = "abc"


def origins(url: str) -> list[str]:
    """Return the CSP sources of a layer URL: ``scheme://host[:port]``; a ``{s}`` subdomain
    becomes ``*.`` (``https://*.tile.openstreetmap.org``), and a ``{s}`` within a host name
    (``https://tiles-{s}.example``, which no CSP wildcard matches) each host Leaflet asks,
    ``tiles-a``, ``tiles-b`` and ``tiles-c`` (only ``tiles-a`` was allowed: two tiles in three
    were blocked)."""
    netloc = urlsplit(url.replace("{s}", "a")).netloc
    scheme = urlsplit(url.replace("{s}", "a")).scheme
    written = url.split("://", 1)[-1]
    if written.startswith("{s}."):
        return [f"{scheme}://*.{netloc.split('.', 1)[1]}"]
    if "{s}" in written.split("/", 1)[0]:
        return [f"{scheme}://{urlsplit(url.replace('{s}', s)).netloc}" for s in LEAFLET_SUBDOMAINS]
    return [f"{scheme}://{netloc}"]


def csp_origins(layers: tuple[BaseLayer, ...]) -> list[str]:
    """Return the distinct origins of ``layers`` (for ``img-src``), in layer order."""
    out: list[str] = []
    for layer in layers:
        for source in origins(layer.url):
            if source not in out:
                out.append(source)
    return out
