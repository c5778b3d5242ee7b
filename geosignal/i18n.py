"""Languages of the pages: French (the source language), Dutch and English, with Flask-Babel.

- **Which language**: the signed-in user's preference (``users.locale``, chosen on the account
  page or with the switcher of every page), then the switcher's cookie (anonymous visitors),
  then the browser's ``Accept-Language``, then French. ``<html lang>`` follows it.
- **Texts**: French is the msgid. Templates and Python mark strings with ``_()`` /
  ``gettext`` (``lazy_gettext`` for module-level constants); the French tables that are not
  written inside ``_()`` (vocabulary labels, error messages, report properties, the scripts'
  messages, Leaflet.draw's texts) are extracted by :func:`extract_python` from
  :data:`TABLES`. The catalogues are ``geosignal/translations/<nl|en>/LC_MESSAGES/messages.po``
  (compiled ``.mo`` committed beside them); ``scripts/translations`` extracts, updates and
  compiles them (see the README). An untranslated msgid falls back to French.
- **Scripts** read their texts from one catalogue per language served by geosignal,
  ``GET /i18n/<fr|nl|en>.js`` (:func:`js_catalogue`): no inline script, strict CSP.
- **Numbers and dates** per locale (``fr_BE``, ``nl_BE``, ``en``), Brussels time:
  :func:`format_number`, :func:`format_area`, :func:`format_date`, :func:`format_datetime`;
  the scripts use ``Intl`` with the catalogue's ``locale``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, redirect, request, url_for
from flask_babel import Babel, force_locale, get_locale, get_translations
from flask_babel import gettext as _
from markupsafe import Markup

from geosignal import vocab

if TYPE_CHECKING:
    from flask import Flask

#: Languages offered, the first is the default (and the source language of the texts).
LANGUAGES: tuple[str, ...] = vocab.LANGUAGES
DEFAULT_LANGUAGE = LANGUAGES[0]
#: Each language's name in itself (the switcher; never translated).
LANGUAGE_NAMES: dict[str, str] = {"fr": "Français", "nl": "Nederlands", "en": "English"}
#: Babel locale of each language: numbers and dates are written the Belgian way.
BABEL_LOCALES: dict[str, str] = {"fr": "fr_BE", "nl": "nl_BE", "en": "en"}
#: The scripts' ``Intl`` locale of each language (British English: day before month).
JS_LOCALES: dict[str, str] = {"fr": "fr-BE", "nl": "nl-BE", "en": "en-GB"}
#: Date and time patterns (CLDR) of each language, Brussels time.
DATE_PATTERNS: dict[str, str] = {"fr": "dd/MM/yyyy", "nl": "dd/MM/yyyy", "en": "d MMM yyyy"}
DATETIME_PATTERNS: dict[str, str] = {"fr": "dd/MM/yyyy 'à' HH:mm", "nl": "dd/MM/yyyy 'om' HH:mm",
                                     "en": "d MMM yyyy, HH:mm"}
#: The scripts' ``toLocaleDateString`` options of each language (same dates as above).
JS_DATE_OPTIONS: dict[str, dict[str, str]] = {
    "fr": {"day": "2-digit", "month": "2-digit", "year": "numeric"},
    "nl": {"day": "2-digit", "month": "2-digit", "year": "numeric"},
    "en": {"day": "numeric", "month": "short", "year": "numeric"},
}
#: Cookie of the language switcher (anonymous visitors; one year).
COOKIE = "geosignal_lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
BRUSSELS = ZoneInfo("Europe/Brussels")

bp = Blueprint("i18n", __name__)


# --------------------------------------------------------------------------- which language

def language() -> str:
    """Return the language of the current request: ``fr``, ``nl`` or ``en`` (see the module).

    Outside a request: French."""
    from flask import has_request_context

    if not has_request_context():
        return DEFAULT_LANGUAGE
    forced = g.get("geosignal_language")
    if forced in LANGUAGES:
        return forced
    from flask_login import current_user
    from sqlalchemy.exc import SQLAlchemyError

    try:  # the database may be down (the 503 page is written in the browser's language then)
        preferred = getattr(current_user, "locale", None) if current_user else None
    except SQLAlchemyError:
        preferred = None
    if preferred in LANGUAGES:
        return preferred
    # chosen by the language cookie, else by Accept-Language: the answer says it varies with
    # both (``Vary``, geosignal.security), so that a shared cache never serves a Dutch page
    # to a French reader
    g.language_negotiated = True
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def select_locale() -> str:
    """Flask-Babel's locale selector: the Babel locale (``fr_BE``, ``nl_BE``, ``en``) of
    :func:`language`."""
    return BABEL_LOCALES[language()]


def current_language() -> str:
    """Return the language Flask-Babel formats in now (``fr``, ``nl`` or ``en``): the
    request's, or the one forced by :func:`flask_babel.force_locale`."""
    locale = get_locale()
    lang = locale.language if locale is not None else DEFAULT_LANGUAGE
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


# --------------------------------------------------------------------------- plurals

def plural_text(singular: str, plural: str, num: float) -> str:
    """Return ``singular`` or ``plural`` (French msgids) as the count ``num`` takes them in the
    current language, translated: Dutch and English by their catalogues' rule (``0 reports``);
    French, the source language without a catalogue, by CLDR's rule (:func:`source_plural`)."""
    if current_language() == DEFAULT_LANGUAGE:
        return source_plural(singular, plural, num)
    return get_translations().ungettext(singular, plural, num)


@functools.cache
def _plural_rule(lang: str) -> Callable[[float], str]:
    from babel import Locale

    return Locale.parse(BABEL_LOCALES[lang]).plural_form


def plural_form(num: float, lang: str | None = None) -> str:
    """Return ``"one"`` or ``"other"``: the plural form the count ``num`` takes in ``lang``
    (default: the current language) by CLDR's rules, as the pages' scripts choose
    (``I.pluralForm``, ``Intl.PluralRules``): 0 and 1 are *one* in French, only 1 in Dutch and
    English. Messages kept as ``<name>_one`` / ``<name>_other`` are chosen by it."""
    return "one" if _plural_rule(lang or current_language())(abs(num)) == "one" else "other"


def source_plural(singular: str, plural: str, num: float) -> str:
    """Return the French msgid the count ``num`` takes (:func:`plural_form` in French:
    ``0 signalement``); gettext's own fallback for a msgid without a catalogue (n ≠ 1) says
    ``0 signalements``."""
    return singular if plural_form(num, DEFAULT_LANGUAGE) == "one" else plural


def ngettext(singular: str, plural: str, num: float, /, **variables: Any) -> str:
    """:func:`flask_babel.ngettext` with :func:`plural_text`'s choice: the text in the plural
    form ``num`` takes, ``%(num)s`` (``num``, or a ``num`` variable: the count as written) and
    ``variables`` filled in."""
    variables.setdefault("num", num)
    return plural_text(singular, plural, num) % variables


# --------------------------------------------------------------------------- numbers and dates

def format_number(value: float | int | None, decimals: int = 0) -> str:
    """Return ``value`` written in the current locale with exactly ``decimals`` decimals:
    ``1 234,5`` (fr_BE, narrow no-break space), ``1.234,5`` (nl_BE), ``1,234.5`` (en);
    None → ``—``. A positive value too small to show at that precision is written
    ``< 0,001`` (for ``decimals`` 3), never ``0,000``: 150 m² of white zone read as none."""
    from babel.numbers import format_decimal

    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    locale = get_locale() or BABEL_LOCALES[DEFAULT_LANGUAGE]
    smallest = 10.0 ** -decimals
    # a half rounded away from zero, as the pages' scripts round (Intl), not to even as Babel
    # does: a card the queue's script redraws said 12 345 m² where the page had said 12 344 m²
    # for an area of 12,344.5 m² (the number as written: 1.15 km is 1,2 km)
    rounded = value
    if isinstance(value, int) and not isinstance(value, bool):
        rounded = Decimal(value)
    elif isinstance(value, float) and math.isfinite(value):  # (numpy's floats too)
        rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    written = format_decimal(rounded, format=pattern, locale=locale)
    if 0 < value and not any(c in "123456789" for c in written):  # (0.0004 rounds to 0,000)
        return "<\u00a0" + format_decimal(smallest, format=pattern, locale=locale)
    return written


def format_percent(fraction: float | None, decimals: int = 0) -> str:
    """Return a share (0–1) as a percentage in the current locale with exactly ``decimals``
    decimals: ``0,14 %`` (fr_BE), ``0,14%`` (nl_BE), ``0.14%`` (en); None → ``—``."""
    from geosignal.ui_text import percent_sign

    if fraction is None:
        return "—"
    return format_number(100 * fraction, decimals) + percent_sign(current_language())


#: Where an area alone switches from m² to km² (:func:`format_area`), m².
KM2_FROM_M2 = 1e5


def format_area(m2: float | None, unit: str | None = None) -> str:
    """Return an area given in m² (EPSG:31370) as people read it, in the current locale:
    below :data:`KM2_FROM_M2` in m² (whole), above in km² (3 decimals; a positive area too
    small for them reads ``< 0,001 km²``); ``unit`` (``m2`` or ``km2``, from
    :func:`area_unit`) forces one, so that a list's areas read in one unit. None or 0 → ``—``."""
    if not m2:
        return "—"
    if unit == "m2" or (unit is None and m2 < KM2_FROM_M2):
        return f"{format_number(m2)} m²"
    return f"{format_number(m2 / 1e6, 3)} km²"


def area_unit(areas_m2: Any) -> str:
    """Return the one unit a list of areas (m², None for none) reads in: ``km2`` when one of
    them reaches :data:`KM2_FROM_M2`, else ``m2`` (a column of « 95 000 m² » beside
    « 0,120 km² » was hard to compare)."""
    return "km2" if any(a is not None and a >= KM2_FROM_M2 for a in areas_m2) else "m2"


def format_distance(metres: float | None) -> str:
    """Return a distance given in metres (EPSG:31370) as people read it: below 1,000 m in
    metres (whole), above in km (1 decimal), in the current locale; None → ``—``."""
    if metres is None:
        return "—"
    if metres < 1000:
        return f"{format_number(round(metres))}\u00a0m"  # (the unit never alone on a line)
    return f"{format_number(metres / 1000, 1)}\u00a0km"


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    # a naive time is Brussels time
    return dt.astimezone(BRUSSELS) if dt.tzinfo else dt.replace(tzinfo=BRUSSELS)


def format_date(value: Any) -> str:
    """Return the day of an ISO 8601 time, a datetime or a date, in Brussels time, written
    the current locale's way: ``04/03/2024`` (fr, nl), ``4 Mar 2024`` (en). A naive time is
    taken as Brussels time; empty or unreadable → ``—``."""
    from babel.dates import format_datetime as babel_format

    dt = _as_datetime(value)
    if dt is None:
        return "—"
    return babel_format(dt, DATE_PATTERNS[current_language()], tzinfo=BRUSSELS,
                        locale=get_locale() or BABEL_LOCALES[DEFAULT_LANGUAGE])


def format_datetime(value: Any) -> str:
    """Return an ISO 8601 time (or datetime) with the hour, Brussels time: ``04/03/2024 à
    14:05`` (fr), ``04/03/2024 om 14:05`` (nl), ``4 Mar 2024, 14:05`` (en); empty → ``—``."""
    from babel.dates import format_datetime as babel_format

    dt = _as_datetime(value)
    if dt is None:
        return "—"
    return babel_format(dt, DATETIME_PATTERNS[current_language()], tzinfo=BRUSSELS,
                        locale=get_locale() or BABEL_LOCALES[DEFAULT_LANGUAGE])


def whole_date(value: Any) -> Markup:
    """Return :func:`format_date` of ``value`` as one piece of a page's text (HTML): a line
    never breaks inside it (« 4 Dec » / « 2026 » did in English)."""
    return Markup('<span class="nowrap">%s</span>') % format_date(value)


def whole_datetime(value: Any) -> Markup:
    """Return :func:`format_datetime` of ``value`` as one piece of a page's text (HTML), as
    :func:`whole_date` does."""
    return Markup('<span class="nowrap">%s</span>') % format_datetime(value)


# --------------------------------------------------------------------------- labels

def label(value: str | None) -> str:
    """Return the label of a vocabulary value (status, technology, operator, issue, setting,
    geometry type or kind, role) in the current language; the value itself when it has none."""
    from geosignal import contract

    if value is None:
        return "—"
    french = contract.value_labels().get(value)
    return _(french) if french else str(value)


def field_label(name: str) -> str:
    """Return the label of a report property (:mod:`geosignal.contract`) in the current
    language (``KeyError`` for an unknown property)."""
    from geosignal import contract

    return _(contract.label(name))


def translate_tree(tree: Any) -> Any:
    """Return a copy of nested dicts / lists of French texts with every text translated into
    the current language (keys are kept)."""
    if isinstance(tree, dict):
        return {k: translate_tree(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [translate_tree(v) for v in tree]
    if isinstance(tree, str):
        return _(tree) if tree else tree
    return tree


# --------------------------------------------------------------------------- the scripts' catalogue

def js_catalogue(lang: str) -> dict[str, Any]:
    """Return what the pages' scripts read (``window.geosignalI18n``) in ``lang``:
    ``{lang, locale (Intl), format_names (an upload's format as people write it), colon
    (between a label and its value), percent (what follows a percentage), separator (between the
    items of a list of remarks), date (toLocaleDateString
    options), labels (vocabulary), fields (report properties), errors (message of each code), messages and params (the
    same with the figures an error carries, see :func:`geosignal.ui_text.error_message`),
    warnings, kinds (a refusal's message by code and kind), field_hints (what to write in a
    property whose value was refused), hints and hint_crs (what a refusal
    adds when it guessed why), map, dashboard,
    import, queue, report_page (each script's messages), draw (Leaflet.draw's
    L.drawLocal, with the locale's number delimiters), draw_touch (its instructions on a touch
    screen), leaflet}``. The served script adds ``problemText(problem)``: what a person
    reads of a problem+json answer, in that language."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    from geosignal import contract, ui_text
    from geosignal.errors import MESSAGES_FR, TITLES_FR
    from geosignal.services.intake.files import FORMAT_NAMES

    with force_locale(BABEL_LOCALES[lang]):
        return {
            "lang": lang,
            "locale": JS_LOCALES[lang],
            "colon": ui_text.colon(lang),
            "percent": ui_text.percent_sign(lang),
            "separator": ui_text.list_separator(lang),
            "date": JS_DATE_OPTIONS[lang],
            "labels": translate_tree(contract.value_labels()),
            "format_names": FORMAT_NAMES,  # (names, the same in every language)
            "fields": {p.name: _(p.label) for p in contract.PROPERTIES},
            "errors": translate_tree(TITLES_FR),
            "messages": translate_tree(MESSAGES_FR),
            "params": ui_text.MESSAGE_PARAMS,
            "beyond_limit_decimals": ui_text.BEYOND_LIMIT_DECIMALS,
            "warnings": translate_tree(ui_text.WARNINGS_FR),
            "kinds": translate_tree(ui_text.KIND_MESSAGES_FR),
            # what to write in a field whose value was refused (a file's value set aside), by
            # property: the sentence the forms say (ui_text.specific_message), where there is one
            "field_hints": {name: hint for name in contract.names(contract.UPLOAD)
                            if (hint := ui_text.specific_message("invalid_attribute", f"/properties/{name}", {}))},
            "hints": translate_tree(ui_text.HINTS_FR),
            "hint_crs": translate_tree(ui_text.HINT_CRS_FR),
            "map": translate_tree(ui_text.MAP_MESSAGES),
            "dashboard": translate_tree(ui_text.DASHBOARD_MESSAGES),
            "import": translate_tree(ui_text.IMPORT_MESSAGES),
            "queue": translate_tree(ui_text.QUEUE_MESSAGES),
            "report_page": translate_tree(ui_text.REPORT_PAGE_MESSAGES),
            # Leaflet.draw's own measures (its tooltip) written the locale's way: 99,30 ha
            "draw": {**translate_tree(ui_text.DRAW_LOCAL), "format": {"numeric": {"delimiters": {
                "thousands": get_group_symbol(BABEL_LOCALES[lang]),
                "decimal": get_decimal_symbol(BABEL_LOCALES[lang])}}}},
            "draw_touch": translate_tree(ui_text.DRAW_TOUCH),
            "leaflet": translate_tree(ui_text.LEAFLET_MESSAGES),
        }


_JS_APPLY = r"""
(function () {
  "use strict";
  var I = window.geosignalI18n;
  // the plural form a count takes in this language ("one" or "other"), by CLDR's rules as the
  // browser knows them (French says "0 signalement", Dutch and English "0 reports"): a
  // message's key is its name with "_one" or "_other"
  I.pluralForm = function (n) {
    return new Intl.PluralRules(I.locale).select(Number(n)) === "one" ? "one" : "other";
  };
  function written(n, digits) {
    return n.toLocaleString(I.locale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  // a figure of a message (params' kinds), as geosignal.ui_text._figure writes it; one refused
  // against a limit (same unit) never reads as it: as many more decimals as it takes, at most
  // beyond_limit_decimals, else "< 100" / "> 200" (geosignal.errors.beyond_limit)
  function figure(value, kind, limit) {
    var n = Number(value), digits = 0, scale = 1;
    if (kind === "text") { return String(value); }
    if (kind === "km2") { scale = 1e6; n = n / scale; digits = n % 1 === 0 ? 0 : 1; }
    if (kind === "mb") { n = n / 1048576; }
    var most = (I.beyond_limit_decimals || {})[kind];
    if (limit === undefined || limit === null || most === undefined) { return written(n, digits); }
    var bound = Number(limit) / scale;
    for (var d = digits; d <= Math.max(digits, most); d++) {
      if (written(n, d) !== written(bound, d)) { return written(n, d); }
    }
    return (n < bound ? "<\u00a0" : ">\u00a0") + written(bound, kind === "km2" && bound % 1 !== 0 ? 1 : 0);
  }
  I.figure = figure;
  // what a person reads of a problem+json answer (or an import's refused feature): its
  // message in this language, with the figures it carries
  I.problemText = function (problem) {
    if (!problem) { return ""; }
    if (problem.message) { return problem.message; }
    var byKind = I.kindText(problem);
    if (byKind) { return byKind; }
    var spec = I.params[problem.code], text = I.messages[problem.code];
    if (spec && text && Object.keys(spec).every(function (k) {
      return spec[k].filter(function (member, i) { return i !== 1; }).every(function (member) {
        return problem[member] !== undefined;
      });
    })) {
      return text.replace(/%\((\w+)\)s/g, function (_, name) {
        return figure(problem[spec[name][0]], spec[name][1], spec[name][2] && problem[spec[name][2]]);
      });
    }
    return (I.errors[problem.code] || problem.title || problem.code || "") + hint(problem);
  };
  // the message of a refusal's kind, its %(name)s filled from the refusal's members of that
  // name (whole numbers the language's way); "" when it has none or a member is missing
  // (geosignal.ui_text.kind_message)
  I.kindText = function (problem) {
    // a refusal with a hint whose kind has a sentence leaving room for it: that one, then the hint
    var hinted = problem.hint && problem.kind && hint(problem) &&
      I.kindText(Object.assign({}, problem, { kind: problem.kind + "_hinted", hint: null }));
    if (hinted) { return hinted + hint(problem); }
    var text = ((I.kinds || {})[problem.code] || {})[problem.kind];
    if (!text) { return ""; }
    var missing = false;
    text = text.replace(/%\((\w+)\)s/g, function (_, name) {
      var v = problem[name];
      if (v === undefined || v === null) { missing = true; return ""; }
      return typeof v === "number" && Number.isInteger(v) ? figure(v, "int") : String(v);
    });
    return missing ? "" : text;
  };
  // what a refusal adds when it guessed why (a place outside: axes swapped, another CRS)
  function hint(problem) {
    var H = I.hints || {};
    if (problem.hint === "axes_swapped" && problem.swapped_commune && H.axes_swapped) {
      var swapped = problem.axes_order === "x_y" && H.axes_swapped_xy ? H.axes_swapped_xy : H.axes_swapped;
      return " " + swapped.replace("{commune}", problem.swapped_commune.name || "");
    }
    var crs = (I.hint_crs || {})[problem.suggested_crs];
    if (problem.hint && problem.suggested_commune && crs && problem.wgs84_only && H.wgs84_only) {  // KML, GPX
      return " " + H.wgs84_only.replace("{crs}", crs).replace("{commune}", problem.suggested_commune.name || "");
    }
    if (problem.hint && problem.suggested_commune && crs && H.other_crs) {
      return " " + H.other_crs.replace("{crs}", crs).replace("{commune}", problem.suggested_commune.name || "")
        .replace("{order}", problem.axes_swapped ? H.order : "");
    }
    return "";
  }
  // Leaflet's and Leaflet.draw's texts (I.leaflet, I.draw, I.draw_touch) are set by
  // static/js/leaflet-setup.js when a map is made, on every page with a map
})();
"""


def _catalogue_script(lang: str) -> str:
    body = json.dumps(js_catalogue(lang), ensure_ascii=False, sort_keys=True)
    return f"// geosignal: texts of the pages' scripts ({lang})\nwindow.geosignalI18n = {body};\n{_JS_APPLY}"


def catalogue_url() -> str:
    """Return the URL of the current language's script catalogue, with a version that
    changes with its content (so that browsers may keep it)."""
    lang = language()
    cache: dict[str, str] = current_app.extensions.setdefault("geosignal.i18n.versions", {})
    if lang not in cache:
        cache[lang] = hashlib.sha256(_catalogue_script(lang).encode()).hexdigest()[:12]
    return url_for("i18n.catalogue", lang=lang, v=cache[lang])


@bp.get("/i18n/<lang>.js")
def catalogue(lang: str) -> Response:
    """The texts of the pages' scripts in one language (JavaScript setting
    ``window.geosignalI18n``; ``static/js/leaflet-setup.js`` gives Leaflet's and Leaflet.draw's
    their part of it when a map is made); 404 for another language."""
    from geosignal.errors import GeosignalError

    if lang not in LANGUAGES:
        raise GeosignalError("not_found", f"no catalogue for language {lang!r}; one of {', '.join(LANGUAGES)}")
    response = Response(_catalogue_script(lang), mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _safe_next(target: str | None) -> str:
    from geosignal.formparse import safe_next  # the sign-in form's rule too

    return page_to_open(safe_next(target) or url_for("pages.index"))


def _opens(path: str) -> bool:
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    try:
        current_app.create_url_adapter(request).match(path, method="GET")
    except RequestRedirect:  # (a GET that answers with a redirect opens a page too)
        return True
    except HTTPException:  # 404, 405
        return False
    return True


def page_to_open(target: str) -> str:
    """Return a path of this site that a browser may open by GET for ``target``: ``target``
    itself when a page answers it, else the nearest path enclosing it that does, without the
    query (``/``, at last). A page that answers a form's POST (a confirmation, a refusal:
    ``/signalements/<id>/actions``, ``/tableau-de-bord/enquete``, ``/utilisateurs/inviter``)
    has a language switch too, whose ``next`` is that address: opened again by GET it was a
    405 (the report's page, the dashboard, the users' list instead)."""
    from urllib.parse import urlsplit

    path = urlsplit(target).path
    if _opens(path):
        return target
    while path not in ("", "/"):
        path = path.rstrip("/").rpartition("/")[0] or "/"
        if _opens(path):
            return path
    return "/"


@bp.post("/langue")
def set_language() -> Response:
    """Choose the language of the pages (form field ``locale``: ``fr``, ``nl`` or ``en``):
    kept in a cookie, and saved as the user's preference when signed in; back to ``next``, or
    to the page enclosing it when ``next`` answers only a form's POST (:func:`page_to_open`).
    An unknown language is refused (``invalid_request``, 400)."""
    from flask_login import current_user

    from geosignal.errors import GeosignalError

    lang = request.form.get("locale", "")
    if lang not in LANGUAGES:
        raise GeosignalError("invalid_request", f"locale must be one of {', '.join(LANGUAGES)}", where="locale")
    if current_user.is_authenticated:
        from geosignal.db import get_session

        current_user.locale = lang
        get_session().commit()
    return remember_language(redirect(_safe_next(request.form.get("next"))), lang)


def remember_language(response: Response, lang: str) -> Response:
    """Keep ``lang`` as this browser's language (the cookie :func:`language` reads) and
    return ``response``."""
    response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


# --------------------------------------------------------------------------- extraction

def _contract_strings(module: Any) -> Iterator[str]:
    yield from (p.label for p in module.PROPERTIES)
    yield from module.GEOMETRY_KIND_LABELS.values()
    yield from (lbl for lbl, _headers in module.COORDINATE_COLUMNS.values())


def _tree_strings(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _tree_strings(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _tree_strings(v)
    elif isinstance(tree, str) and tree:
        yield tree


def _tables(*names: str) -> Callable[[Any], Iterator[str]]:
    def strings(module: Any) -> Iterator[str]:
        for name in names:
            yield from _tree_strings(getattr(module, name))
    return strings


#: French texts kept in tables rather than inside ``_()``: module → its msgids. They are
#: translated where they are shown (:func:`label`, :func:`field_label`,
#: :func:`geosignal.ui_text.error_message`, :func:`js_catalogue`).
TABLES: dict[str, Callable[[Any], Iterable[str]]] = {
    "geosignal.vocab": _tables("LABELS_FR"),
    "geosignal.contract": _contract_strings,
    "geosignal.errors": _tables("TITLES_FR", "MESSAGES_FR"),
    "geosignal.workflow": _tables("ACTION_LABELS_FR", "DONE_LABELS_FR", "EVENT_LABELS_FR", "TEXT_LABELS_FR"),
    "geosignal.ui_text": _tables("WARNINGS_FR", "MAP_MESSAGES", "DASHBOARD_MESSAGES", "IMPORT_MESSAGES",
                                 "QUEUE_MESSAGES", "QUEUE_PROMPTS", "REPORT_PAGE_MESSAGES", "ZONE_STATES_FR",
                                 "EVIDENCE_FIELDS_FR", "DRAW_LOCAL", "DRAW_TOUCH", "LEAFLET_MESSAGES", "SURVEY_INDICATORS_FR", "TOKEN_STATES",
                                 "EXPORT_FILTER_LABELS", "INDICATORS", "PROVINCES_FR",
                                 "DECISION_LABELS_FR", "HINTS_FR", "HINT_CRS_FR", "KIND_MESSAGES_FR",
                                 "NETWORK_MISMATCH_FR"),
    "geosignal.services.aggregation.downloads": _tables("CSV_COLUMNS", "SURVEY_CSV_COLUMNS", "CSV_WORDS"),
    "geosignal.services.basemaps": _tables("NAMES_FR"),
    "geosignal.services.ogc": _tables("TEXTS_FR", "COLLECTIONS"),
    "geosignal.services.audit": _tables("ACCOUNT_EVENT_LABELS_FR"),
}


def table_msgids() -> list[str]:
    """Return every msgid of :data:`TABLES`, in table order, without repeats."""
    import importlib

    seen: dict[str, None] = {}
    for name, strings in TABLES.items():
        for text in strings(importlib.import_module(name)):
            seen.setdefault(text, None)
    return list(seen)


def extract_python(fileobj: Any, keywords: Any, comment_tags: Any, options: dict) -> Iterator[tuple]:
    """Babel extraction method for geosignal's Python files (``babel.cfg``): the ``_()``
    calls, as Babel's own ``python`` method finds them, and, for the modules of
    :data:`TABLES`, every French text of their tables (line of its first occurrence)."""
    import importlib

    from babel.messages.extract import extract_python as babel_extract

    yield from babel_extract(fileobj, keywords, comment_tags, options)
    path = str(getattr(fileobj, "name", "")).replace("\\", "/")
    match = re.search(r"(geosignal/.+)\.py$", path)
    module_name = match.group(1).replace("/", ".") if match else ""
    if module_name not in TABLES:
        return
    fileobj.seek(0)
    source = fileobj.read().decode("utf-8")
    lines = source.splitlines()
    seen: set[str] = set()
    for text in TABLES[module_name](importlib.import_module(module_name)):
        if text in seen:
            continue
        seen.add(text)
        needle = json.dumps(text, ensure_ascii=False)[1:-1]
        lineno = next((i + 1 for i, line in enumerate(lines) if needle in line), 1)
        yield lineno, None, text, []


# --------------------------------------------------------------------------- the app

def in_french(text: str | None) -> Markup:
    """``text`` (a title that has no translation: the survey's report, a commune's name)
    marked as French for a page in another language (``<span lang="fr">``, WCAG 3.1.2),
    escaped; as it is on a French page."""
    if text is None:
        return Markup("")
    if language() == DEFAULT_LANGUAGE:
        return Markup.escape(text)
    return Markup('<span lang="fr">%s</span>') % text


def _template_globals() -> dict[str, Any]:
    return {
        "in_french": in_french,
        "lang": language,
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "i18n_catalogue_url": catalogue_url,
        "label": label,
        "field_label": field_label,
    }


def init_app(app: Flask) -> None:
    """Attach Flask-Babel to ``app`` (``_``, ``gettext`` and ``ngettext`` in templates),
    the template globals (``lang()``, ``label()``, ``field_label()``, the switcher's
    ``languages``), the number and date filters, and the ``i18n`` blueprint (the switcher's
    ``POST /langue`` and the scripts' catalogues ``GET /i18n/<lang>.js``)."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", BABEL_LOCALES[DEFAULT_LANGUAGE])
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Brussels")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale)
    # the templates' ngettext chooses as the Python one does (French: 0 is singular)
    # (pgettext and npgettext stay Flask-Babel's: only those given are replaced)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: get_translations().ugettext(s), ngettext=plural_text, newstyle=True)
    app.context_processor(_template_globals)
    app.add_template_filter(format_number, "number")
    app.add_template_filter(format_area, "area")
    app.add_template_filter(area_unit, "area_unit")
    app.add_template_filter(format_distance, "distance")
    app.add_template_filter(format_percent, "percent")
    app.add_template_filter(whole_date, "local_date")
    app.add_template_filter(whole_datetime, "local_datetime")
    app.register_blueprint(bp)
