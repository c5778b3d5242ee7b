"""The catalogues: every text babel extracts from the code (templates, ``_()`` calls and the
French tables of :data:`geosignal.i18n.TABLES`) is translated in Dutch and English, with the
same placeholders, and the committed ``.mo`` files are the compiled ``.po`` files.

When this fails after a change of texts: ``scripts/translations`` (extract, update, compile),
fill the empty ``msgstr`` of ``geosignal/translations/{nl,en}/LC_MESSAGES/messages.po``, run it
again. No database needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from geosignal import i18n

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "geosignal" / "translations"
TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT_LANGUAGE]
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    """The msgids babel extracts with the project's map (babel.cfg), as scripts/translations does."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def _catalogue(lang: str):  # noqa: ANN202
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def _key(message_id: str | tuple | list) -> str:
    """The msgid of a message (the singular of an ngettext pair)."""
    return message_id if isinstance(message_id, str) else message_id[0]


def _done(string: str | tuple | list) -> bool:
    """Whether a msgstr is filled (every plural form of an ngettext pair)."""
    return bool(string) if isinstance(string, str) else bool(string) and all(string)


def _forms(message_id: str | tuple | list, string: str | tuple | list) -> list[tuple[str, str]]:
    """(source, translation) pairs to compare placeholders: the msgid with its msgstr, or for
    an ngettext pair the plural source with every translated form."""
    if isinstance(message_id, str):
        return [(message_id, string)]
    return [(message_id[1], form) for form in string]


def test_extraction_finds_the_templates_the_code_and_the_tables(extracted: set[str]) -> None:
    from geosignal import contract, ui_text, vocab
    from geosignal.errors import MESSAGES_FR, TITLES_FR

    assert "Se connecter" in extracted  # a template
    assert "E-mail ou mot de passe incorrect." in extracted  # a flash message (Python)
    assert set(vocab.LABELS_FR.values()) <= extracted
    assert set(TITLES_FR.values()) <= extracted and set(MESSAGES_FR.values()) <= extracted
    assert {p.label for p in contract.PROPERTIES} <= extracted
    assert ui_text.DRAW_LOCAL["draw"]["toolbar"]["buttons"]["polygon"] in extracted
    assert set(i18n.table_msgids()) <= extracted
    assert len(extracted) > 450


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_extracted_text_is_translated(extracted: set[str], lang: str) -> None:
    catalogue = _catalogue(lang)
    translated = {_key(m.id): m.string for m in catalogue if m.id and _done(m.string) and not m.fuzzy}
    missing = sorted(extracted - set(translated))
    assert missing == [], f"{len(missing)} text(s) without a {lang} translation: run scripts/translations " \
                          f"and fill them in geosignal/translations/{lang}: {missing[:10]}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_the_placeholders(lang: str) -> None:
    wrong = [(source, form) for m in _catalogue(lang) if m.id and _done(m.string)
             for source, form in _forms(m.id, m.string)
             if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(form))]
    assert wrong == []
    plurals = [m for m in _catalogue(lang) if isinstance(m.id, tuple)]
    assert plurals and all(len(m.string) == 2 for m in plurals)  # Dutch and English: one, other


@pytest.mark.parametrize("lang", TRANSLATED)
def test_compiled_catalogue_is_the_po_file(lang: str) -> None:
    po = {_key(m.id): tuple(m.string) if isinstance(m.string, (tuple, list)) else m.string
          for m in _catalogue(lang) if m.id and _done(m.string) and not m.fuzzy}
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
        mo = {_key(m.id): tuple(m.string) if isinstance(m.string, (tuple, list)) else m.string
              for m in read_mo(f) if m.id}
    assert mo == po, "the .mo file is stale: run scripts/translations compile"


def test_a_dutch_and_an_english_spot_check() -> None:
    nl = {m.id: m.string for m in _catalogue("nl")}
    en = {m.id: m.string for m in _catalogue("en")}
    assert nl["Aucune couverture"] == "Geen dekking" and en["Aucune couverture"] == "No coverage"
    assert nl["Tronçon"] == "Wegvak" and en["Tronçon"] == "Road stretch"
    assert nl["Zone blanche"] == "Witte zone"
    assert nl["Dessiner une zone"] == "Een zone tekenen" and en["Dessiner une zone"] == "Draw a zone"
    plural = ("%(num)s signalement attend votre validation :", "%(num)s signalements attendent votre validation :")
    assert nl[plural] == ("%(num)s melding wacht op uw validatie:", "%(num)s meldingen wachten op uw validatie:")
    assert en[plural] == ("%(num)s report awaits your validation:", "%(num)s reports await your validation:")
    assert nl["Poser une question"] == "Een vraag stellen" and en["Poser une question"] == "Ask a question"
