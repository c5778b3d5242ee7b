"""What the pages read from forms and query strings, one rule each: whole numbers, decimal
numbers, flags, free text with something visible in it, e-mail addresses, and where to go
back to after a form (``next``).

Every reader here is strict and bounded: Python's ``int()`` and ``float()`` accept
superscript and other non-ASCII digits (``"²".isdigit()`` is true), underscores (``1_0`` is
10) and refuse more than 4,300 digits with a ``ValueError`` — none of that reaches them from
here. Flask-free: the views pass the raw text and raise or render what they decide.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from geosignal.errors import GeosignalError

#: Digits kept in a whole number (beyond: no count, id or limit of geosignal is that large).
MAX_DIGITS = 18

_WHOLE_DIGITS = re.compile(r"[0-9]+")
#: A decimal number as a form gives it: ASCII digits, one decimal point or comma, an optional
#: leading minus (ASCII hyphen-minus or the typographic U+2212 the labels show).
_DECIMAL = re.compile(rf"(-)?([0-9]{{1,{MAX_DIGITS}}})(?:[.,]([0-9]{{1,{MAX_DIGITS}}}))?")
#: Spaces (ordinary, no-break, narrow no-break) a number may hold: between groups of three
#: digits of its whole part only ("1 000", "12 500,5"); "1 5" or "5 10" are not one number.
_SPACES = re.compile(r"[ \u00a0\u202f]")
_SPACE_GROUPED = re.compile(r"-?[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+(?:[.,][0-9]+)?")
#: One group of three digits after a point or comma, the whole part not 0 ("6.000", "1,500"):
#: a thousands separator (as Belgians write 6.000 m) or a decimal one? Never guessed.
AMBIGUOUS_SEPARATOR = re.compile(r"-?([1-9][0-9]{0,2})[.,]([0-9]{3})")

#: The words a flag may be given as (case-insensitive), and what they mean.
FLAG_WORDS: dict[str, bool] = {"1": True, "true": True, "yes": True, "on": True,
                               "0": False, "false": False, "no": False, "off": False}


def whole_number(text: str | None, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The non-negative whole number written in ``text`` (ASCII digits only, at most
    ``max_digits`` of them once leading zeros are dropped), or None for anything else
    (empty, a sign, ``²``, ``1_0``, a space inside, 5,000 digits)."""
    if text is None:
        return None
    digits = text.strip()
    trimmed = digits.lstrip("0") or "0"
    if not digits.isascii() or not digits.isdigit() or len(trimmed) > max_digits or not _WHOLE_DIGITS.fullmatch(trimmed):
        return None
    return int(trimmed)


def decimal_number(text: str | None) -> float | None:
    """The number written in ``text`` as people type it in a form: ASCII digits, a decimal
    point or comma, a leading ``-`` or ``−`` (U+2212), spaces and narrow no-break spaces
    between groups of three digits of the whole part ignored; None for anything else (``NaN``,
    ``inf``, ``1e3``, ``1_0``, ``²``, ``1 5``, more than :data:`MAX_DIGITS` digits on either side
    of the point) and for a number whose separator could be a thousands or a decimal one
    (:data:`AMBIGUOUS_SEPARATOR`: ``6.000``, ``1,500``)."""
    if text is None:
        return None
    cleaned = text.strip().replace("\u2212", "-")
    if AMBIGUOUS_SEPARATOR.fullmatch(cleaned):  # 6 or 6000? the caller refuses the text as typed
        return None
    if _SPACES.search(cleaned):
        if not _SPACE_GROUPED.fullmatch(cleaned):  # "1 5", "5 10": two numbers, or a typo
            return None
        cleaned = _SPACES.sub("", cleaned)
    match = _DECIMAL.fullmatch(cleaned)
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    value = float(f"{whole}.{fraction or '0'}")
    return -value if sign else value


def ambiguous_readings(text: str | None) -> tuple[int, float, int] | None:
    """The two numbers a text matching :data:`AMBIGUOUS_SEPARATOR` may mean, to say them
    back: ``(thousands reading, decimal reading, decimals the decimal reading needs)`` —
    ``"1.000"`` → ``(1000, 1.0, 0)``, ``"−1,500"`` → ``(-1500, -1.5, 1)``; None for any
    other text (or None)."""
    if not isinstance(text, str):
        return None
    cleaned = text.strip().replace("\u2212", "-")
    match = AMBIGUOUS_SEPARATOR.fullmatch(cleaned)
    if match is None:
        return None
    sign = -1 if cleaned.startswith("-") else 1
    whole, fraction = match.groups()
    return sign * int(whole + fraction), sign * float(f"{whole}.{fraction}"), len(fraction.rstrip("0"))


def flag(value: str | None, *, where: str, default: bool = False) -> bool:
    """A boolean option: one of :data:`FLAG_WORDS` (``true/false``, ``1/0``, ``yes/no``,
    ``on/off``, any case); absent or empty gives ``default``. Anything else (``maybe``, ``2``,
    ``y``) is refused: 400 ``invalid_request`` with ``where`` — never read as false."""
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word not in FLAG_WORDS:
        raise GeosignalError("invalid_request", f"{where} must be one of true/false, 1/0, yes/no, on/off; "
                             f"got {value[:20]!r}", where=where, allowed=sorted(FLAG_WORDS))
    return FLAG_WORDS[word]


#: A date as Belgians write it, day first: ``31/03/2024`` (or with ``.`` or ``-``; ``15/01/25``,
#: Excel's short date, is 2025), optionally followed by the time ``14:30`` or ``14h30`` (and
#: seconds). ASCII digits only: ``int()`` would also read ``٣٠/٠٣/٢٠٢٥``. The files' reader
#: (:mod:`geosignal.services.intake.properties`) and the pages' forms read it alike.
DAY_FIRST = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T](\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$", re.ASCII
)


def form_date(text: str | None) -> str | None:
    """A date (and time) typed in a form, as the API reads it: a day-first date
    (:data:`DAY_FIRST`: ``31/03/2024``, ``31/03/2024 14:30``) as ISO 8601 text
    (``2024-03-31``, ``2024-03-31T14:30``, Brussels wall time as any naive time); any other
    text stripped and as typed (an ISO date, a browser's date or datetime-local field; what
    cannot be read is refused by intake, naming the field); None when empty. A day that does
    not exist (``31/02/2024``) is given on as ``2024-02-31``: refused as such."""
    value = (text or "").strip()
    if not value:
        return None
    found = DAY_FIRST.match(value)
    if found is None:
        return value
    dd, mm, yyyy, hh, mi, ss = found.groups()
    day = f"{int(yyyy) + (2000 if len(yyyy) == 2 else 0):04d}-{int(mm):02d}-{int(dd):02d}"
    return day if hh is None else f"{day}T{int(hh):02d}:{mi}" + (f":{ss}" if ss else "")


#: Letters and symbols that draw nothing: the Hangul fillers (U+115F, U+1160, U+3164,
#: U+FFA0, letters in Unicode) and the blank Braille pattern (U+2800, a symbol).
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def visible(text: str | None) -> bool:
    """Whether ``text`` holds at least one character a reader sees: a letter, a digit, a
    punctuation mark or a symbol (Unicode categories L, N, P, S) other than the blank ones
    (:data:`BLANK_GLYPHS`). Spaces, line ends, zero-width and other format characters (ZERO
    WIDTH SPACE, WORD JOINER, BOM…) and combining marks alone (they draw on a character, and
    U+034F, U+17B4 draw nothing) are not seen."""
    return any(unicodedata.category(c)[0] in "LNPS" and c not in BLANK_GLYPHS for c in text or "")


def newlines_as_lf(text: str) -> str:
    """Free text as stored: a browser sends a textarea's line ends as CRLF; geosignal stores LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


#: Longest e-mail address (RFC 5321 path limit, and the users table's column).
MAX_EMAIL_CHARS = 254
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TOP_LABEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def email_problem(address: str) -> str | None:
    """Why ``address`` is not an e-mail address geosignal accepts, as a kind — ``too_long``,
    ``characters`` (a space, a control, a direction override, a letter outside ASCII),
    ``form`` (not one ``@`` between a local part and a domain) or ``domain`` (a domain
    without a dot, or with a label that is not letters, digits and inner hyphens) — or None.

    The rule is the ASCII "dot-atom" of RFC 5322 (no quoted local parts, no comments, no IP
    literals) with a domain of DNS host names, at most :data:`MAX_EMAIL_CHARS` characters: what
    every mail server delivers to, and nothing a header or a page could be fooled by."""
    if len(address) > MAX_EMAIL_CHARS:
        return "too_long"
    if not address.isascii() or any(c.isspace() or not c.isprintable() for c in address):
        return "characters"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local or len(local) > 64 or not _LOCAL.fullmatch(local):
        return "form"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) \
            or not _TOP_LABEL.fullmatch(labels[-1]):
        return "domain"
    return None


def safe_next(target: str | None) -> str | None:
    """Where a form may send the user back to: ``target`` when it is a path of this site, else
    None (the caller then goes home).

    Browsers strip tabs and line ends from a URL and read ``\\`` as ``/`` before resolving it,
    so ``/\\t/evil.example`` and ``/\\\\evil.example`` lead to another site: any control
    character, space or backslash refuses the target, and what is left must be a path
    (``/…``, no scheme, no host, not ``//``)."""
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(c.isspace() or not c.isprintable() for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return target


__all__ = ["FLAG_WORDS", "MAX_DIGITS", "MAX_EMAIL_CHARS", "decimal_number", "email_problem", "flag",
           "newlines_as_lf", "safe_next", "visible", "whole_number"]
