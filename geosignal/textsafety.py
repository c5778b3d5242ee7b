"""What text geosignal stores, and what JSON text it reads: one rule for every entry point.

Free text (a report's description, a transition's reason, a question, an answer…) is stored
exactly as given, or refused; never silently cleaned. Refused, wherever it comes from:

* C0 control characters but tab, line feed and carriage return (NUL cannot even be stored in
  PostgreSQL text), DEL and the C1 controls (the mark of text decoded with the wrong code page);
* the bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069),
  which make a text display in another order than it reads ("Trojan source");
* UTF-16 surrogates (U+D800–U+DFFF): JSON's ``\\ud800`` escapes decode to them when unpaired,
  and they are not Unicode text (they cannot be encoded as UTF-8, stored or written back).
* the 66 noncharacters (U+FDD0–U+FDEF and the last two code points of every plane, U+FFFE,
  U+FFFF, U+1FFFE…): Unicode keeps them for a program's internal use, never for text sent to
  others, and XML (a KML export) cannot carry U+FFFE or U+FFFF at all.

JSON bodies and uploads are read with a :func:`strict_pairs` hook (a member name twice in one
object is refused: RFC 8259 leaves its meaning open, and Python would keep the last silently) and
:func:`check_json_text` (no unpaired surrogate anywhere, names included).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from geosignal.errors import GeosignalError

#: Characters refused in stored free text (see the module's docstring).
UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
                               "\ufdd0-\ufdef" + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF)
                                                        for plane in range(17)) + "]")

#: What a name (a file's) may not hold: :data:`UNSAFE_CHARACTERS`, and a tab or a line break,
#: which a text may hold.
UNSAFE_IN_NAMES = re.compile(UNSAFE_CHARACTERS.pattern[:-1] + "\t\n\r]")

_SURROGATE = re.compile("[\ud800-\udfff]")
#: A ``\\uD800``–``\\uDFFF`` escape in JSON text (paired or not: the parsed strings tell).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def describe_character(char: str) -> str:
    """``U+202E`` for one character."""
    return f"U+{ord(char):04X}"


def refuse_unsafe_text(text: str, *, name: str, where: str, code: str = "invalid_attribute",
                       characters: re.Pattern = UNSAFE_CHARACTERS, **extra: Any) -> None:
    """Raise ``code`` (``where`` = the pointer or field given; its status unless ``extra``
    gives ``status``) when ``text`` holds a character of ``characters``
    (:data:`UNSAFE_CHARACTERS`; a name's: :data:`UNSAFE_IN_NAMES`), naming the character and
    its position (0-based); ``extra`` (a ``kind``…) is added to the error."""
    bad = characters.search(text)
    if bad is not None:
        raise GeosignalError(code, f"{name} holds the character {describe_character(bad.group())} at position "
                             f"{bad.start()} (a control, a direction override, an unpaired surrogate or a noncharacter), which "
                             "geosignal does not store; remove it.", where=where,
                             character=describe_character(bad.group()), position=bad.start(), **extra)


def escaped_breaks(text: str) -> str:
    """Return a name stored before names were checked (:data:`UNSAFE_IN_NAMES`) as one line of
    a terminal's tab-separated listing: each such character written as its Python escape
    (``\\n``, ``\\t``, ``\\u202e``); other text, accents included, as it is."""
    return UNSAFE_IN_NAMES.sub(lambda bad: bad.group().encode("unicode_escape").decode("ascii"), text)


#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection); a
#: line feed too, since intake stores a leading carriage return as one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_text(text: str) -> str:
    """Return ``text`` as a cell of a CSV written for a spreadsheet: a text starting with
    ``= + - @``, a tab, a carriage return or a line feed gets a leading apostrophe (shown as
    text, never run as a formula); other text is returned as it is."""
    return "'" + text if text.startswith(FORMULA_START) else text


class _Duplicated(dict):
    """A JSON object in which a member name appeared twice (``member``)."""

    __slots__ = ("member",)


def strict_pairs() -> tuple[Callable[[list[tuple[str, Any]]], dict[str, Any]], list[str]]:
    """An ``object_pairs_hook`` for one :func:`json.loads` call, and the list of the member
    names it found twice in one object (empty when none: :func:`check_json_text` then has
    nothing to look for). An object with a repeated name is marked, for its pointer."""
    repeated: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        seen: set[str] = set()
        marked = _Duplicated(obj)
        for key, _ in pairs:
            if key in seen:
                marked.member = key
                repeated.append(key)
                break
            seen.add(key)
        return marked

    return hook, repeated


def pointer_key(key: Any) -> str:
    """One reference token of a JSON pointer (RFC 6901): ``~`` → ``~0``, ``/`` → ``~1``."""
    return str(key).replace("~", "~0").replace("/", "~1")


def first_node(obj: Any, test: Callable[[Any], bool], ptr: str = "") -> tuple[str, Any] | None:
    """(JSON pointer, node) of the first node of the document ``obj`` (depth first, document
    order; objects, arrays and tuples walked) passing ``test``, pointers starting at ``ptr``;
    None when none does."""
    stack: list[tuple[Any, str]] = [(obj, ptr)]
    while stack:
        node, at = stack.pop()
        if test(node):
            return at, node
        if isinstance(node, dict):
            stack.extend((v, f"{at}/{pointer_key(k)}") for k, v in reversed(list(node.items())))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, f"{at}/{i}") for i, v in reversed(list(enumerate(node))))
    return None


def _has_surrogate(node: Any) -> bool:
    if isinstance(node, str):
        return _SURROGATE.search(node) is not None
    if isinstance(node, dict):
        return any(isinstance(k, str) and _SURROGATE.search(k) for k in node)
    return False


def check_json_text(text: str, obj: Any, *, duplicates: bool) -> None:
    """Refuse a parsed JSON document (``obj``, parsed from ``text``): 400 ``invalid_json``
    naming the pointer of a member name given twice in one object (``duplicates``: the list
    :func:`strict_pairs` filled was not empty), or of an unpaired UTF-16 surrogate in any
    string or member name.

    Costs nothing more than a regular-expression scan of ``text`` unless the text holds a
    surrogate escape or a repeated name (then the document is walked once).
    """
    if duplicates:
        found = first_node(obj, lambda n: isinstance(n, _Duplicated))
        if found is not None:
            ptr, node = found
            raise GeosignalError("invalid_json", f"The member {node.member!r} appears twice in the object at "
                                 f"{ptr or '/'}: JSON member names must be unique (which one is meant?).",
                                 where=f"{ptr}/{pointer_key(node.member)}", member=node.member)
    if _SURROGATE_ESCAPE.search(text) is None and _SURROGATE.search(text) is None:
        return
    found = first_node(obj, _has_surrogate)
    if found is not None:
        ptr, node = found
        if isinstance(node, dict):
            key = next(k for k in node if isinstance(k, str) and _SURROGATE.search(k))
            ptr = f"{ptr}/{pointer_key(key.encode('utf-8', 'backslashreplace').decode('ascii'))}"
        raise GeosignalError("invalid_json", f"The JSON text holds an unpaired UTF-16 surrogate (a \\uD800–\\uDFFF "
                             f"escape without its pair) at {ptr.encode('utf-8', 'backslashreplace').decode()}: it "
                             "is not Unicode text.", where=ptr.encode("utf-8", "backslashreplace").decode())


__all__ = ["FORMULA_START", "UNSAFE_CHARACTERS", "UNSAFE_IN_NAMES", "check_json_text", "describe_character",
           "escaped_breaks", "first_node", "pointer_key", "refuse_unsafe_text", "spreadsheet_text", "strict_pairs"]
