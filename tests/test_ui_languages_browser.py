"""Every page of a representative and of the referent in Dutch and in English, in headless
Chromium (Debian's, via Playwright), at 390×844 and 1440×900: what
``test_ui_browser.py::test_every_page_fits_speaks_french_and_has_big_targets`` checks in
French — nothing wider than the screen, no raw code, 44 px touch targets and whole select
choices on a phone — on the longer Dutch and English texts, and no French left on the page
(a list of common French words among the visible text, placeholders and accessible names, the
users' own texts, the communes' names and « Français » aside). And, found on these pages: no
option of a select that would be cut once chosen on a phone, no report reference or date
broken over two lines (« Edit report CM-2026- » / « 00003 », « (4 » / « Dec 2026, 06:00) »),
the zones page's links 44 px tall on a phone. Besides that test's pages: a report's page (the representative's answer form, the referent's
decisions) and its edit page, the validation queue, the account pages, the upload page after
a preview and the zones page. The language comes from the ``geosignal_lang`` cookie in a
French browser (fr-BE), so that nothing of the browser's language leaks in. One browser
context per language and size; screenshots go to ``test-artifacts/languages/``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from geosignal.models import Commune, Report, User
from tests.conftest import ARTIFACTS, CHARLEROI
from tests.factories import square_lambert
from tests.test_browser import PASSWORD, browser  # noqa: F401  (fixture)
from tests.test_ui_browser import (
    CHIMAY,
    PHONE,
    RAW,
    TARGETS,
    UPLOAD_CSV,
    X0,
    Y0,
    Watch,
    _add,
    _cut_choices,
    _slug,
    _visible_text,
    ui,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "languages"
REP, REF = "ui-rep@charleroi.be", "ui-ref@igretec.com"

#: Raw codes on a Dutch or English page: RAW, less the English words of the vocabulary on an
#: English page (« 3 reports validated » is English there, not a code).
RAW_EN = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b(?:LineString|Polygon|MultiPolygon|MultiPoint|"
                    r"MultiLineString)\b|\bDSL\b(?! \(copper\))")
RAW_BY_LANG = {"nl": re.compile(RAW.pattern.replace(r"(?! \(cuivre\))", r"(?! \(koper\))")), "en": RAW_EN}

#: Words that are French and neither Dutch nor English: one of them shown on a Dutch or
#: English page is a text left untranslated. (Not « de », « en », « zone », « commune »,
#: « date », « plus », « page », « type », « message », « photo », « description », shared.)
FRENCH = frozenset("""
le la les des du une un est sont été être avoir aux au ce cet cette ces qui que quoi dont où ou et pas
ne pour avec dans sur sous sans par chez vous votre vos nous notre nos leur leurs il elle ils elles
aucun aucune tous toutes tout toute autre autres déjà encore aussi mais donc très trop peu
signalement signalements carte compte mot passe déconnexion connexion retour enregistrer annuler valider
modifier envoyer supprimer retirer choisir fichier rechercher adresse réseau opérateur opérateurs ménages
entreprises observé observée soumis validé validés rejeté retiré transmis brouillon résolu fixe
tableau bord fiche jeton jetons utilisateurs utilisateur comptes demandes demande motif réponse répondre
aperçu importer enregistré lien courriel mois jour jours année semaine hier aujourd'hui
""".split())
#: Proper names and data that stay French in every language (besides the communes' names).
KEPT = ("Charleroi Métropole", "Territoire intelligent : où en est votre commune ? Édition 2022",  # a report's title
        "Français", "© tuiles de test", "© WMS de test", "Plan local", "Plan WMS")
#: French letters: a word holding one is French unless it is one of these (Dutch or shared).
ACCENTED = re.compile(r"\b\w*[éèêàâçùûôîœ]\w*\b")
NOT_FRENCH = frozenset({"één", "eén", "ééns", "hé", "café", "geëxporteerd"})
#: Words of that list that are Dutch or English too (Belgian Dutch says « fiche » and « enquête »).
ALSO = {"nl": frozenset({"hier", "fiche", "enquête", "motief"}), "en": frozenset({"est"})}  # « Inhabitants (est.) »


@pytest.fixture(scope="module")
def served(ui) -> Iterator[dict]:  # noqa: ANN001, F811
    """The ``ui`` service with a zone to decide (two overlapping reports in Charleroi) and the
    names to leave out of the French check: the communes' (French and Dutch) and the reports'
    descriptions (the users' own text)."""
    database = ui["app"].extensions["geosignal.db"]
    with database.session() as session:
        admin = session.scalar(select(User).where(User.email == "ui-admin@igretec.com"))
        for dx in (0, 150):
            _add(session, admin, square_lambert(X0 + 1500 + dx, Y0 + 1500, 300), status="submitted",
                 description="Pas de réseau derrière la salle des fêtes")
        session.commit()
        names = set()
        for commune in session.scalars(select(Commune)):
            names.update(n for n in (commune.name_fr, commune.name_nl) if n)
    kept = sorted(names | set(KEPT), key=len, reverse=True)
    yield {**ui, "kept": kept}


def _french_left(page, lang: str, kept: list[str]) -> list[str]:  # noqa: ANN001
    """French words among the page's visible text, placeholders and accessible names (the
    users' own texts, the communes' names and the language switcher's « Français » aside)."""
    shown = _visible_text(page) + "\n" + "\n".join(page.evaluate("""() => [...document.querySelectorAll(
            '[placeholder], [aria-label], [title]')].filter(e => !e.closest('[hidden]'))
            .flatMap(e => [e.getAttribute('placeholder'), e.getAttribute('aria-label'), e.getAttribute('title')])
            .filter(Boolean)"""))
    for user_text in page.evaluate("""() => [...document.querySelectorAll(
            '.user-text, [data-user-text], td.kind-text, .description')].map(e => e.innerText)"""):
        shown = shown.replace(user_text, " ")
    shown = re.sub(r"Rue n° \d+, côté l'église|Motif de test|Pas de réseau derrière la salle des fêtes", " ", shown)
    for name in kept:
        shown = shown.replace(name, " ")
    found = [m for m in re.finditer(r"[\w'’]+", shown) if m.group().lower() in FRENCH - ALSO[lang]]
    found += [m for m in ACCENTED.finditer(shown) if m.group().lower() not in NOT_FRENCH | ALSO[lang]]
    return sorted({" ".join(shown[max(m.start() - 30, 0):m.end() + 30].split()) for m in found})


def _small_targets(page) -> list[str]:  # noqa: ANN001
    """The controls smaller than 44 × 44 px (``TARGETS``, and the links of the zones page)."""
    return page.evaluate("""sel => Array.from(document.querySelectorAll(sel)).filter(e => {
            const r = e.getBoundingClientRect(), s = getComputedStyle(e);
            return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !e.closest('[hidden]')
                && !e.classList.contains('skip-link') && (r.height < 43.5 || r.width < 43.5);
        }).map(e => e.outerHTML.slice(0, 90) + ' ' + Math.round(e.getBoundingClientRect().width) + 'x'
                   + Math.round(e.getBoundingClientRect().height))""", TARGETS + ", .zone-reports a")


def _cut_options(page) -> list[str]:  # noqa: ANN001
    """The visible selects one of whose options, once chosen, would not show whole (measured as
    :func:`tests.test_ui_browser._cut_choices` measures the chosen one)."""
    return page.evaluate("""() => {
        const ctx = document.createElement('canvas').getContext('2d');
        return [...document.querySelectorAll('select')].flatMap(e => {
            const r = e.getBoundingClientRect(), s = getComputedStyle(e);
            if (!(r.width > 0 && r.height > 0) || e.closest('[hidden]')) { return []; }
            ctx.font = s.font;
            const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - 20;
            return [...e.options].filter(o => ctx.measureText(o.text).width > room)
                .map(o => (e.name || e.id) + ': ' + o.text); }); }""")


#: What must never be broken over two lines: a report's reference, a date written in words.
WHOLE = r"CM-\d{4}-\d{5}|\b\d{1,2}[ \u00a0][A-Z][a-z]{2}[ \u00a0]\d{4}(?:, \d\d:\d\d)?"


def _broken_pieces(page) -> list[str]:  # noqa: ANN001
    """The references and dates of the page's text that run over two lines (« Report CM-2026- »
    / « 00003 », « (4 » / « Dec 2026, 06:00) »)."""
    return page.evaluate("""pattern => {
        const found = [], walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walk.nextNode(); node; node = walk.nextNode()) {
            const parent = node.parentElement;
            if (!parent || parent.closest('[hidden], script, style, .visually-hidden, select, option')
                || (parent.closest('details:not([open])') && !parent.closest('summary'))) { continue; }
            for (const m of node.data.matchAll(new RegExp(pattern, 'g'))) {
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                                     .map(r => Math.round(r.bottom)));
                if (tops.size > 1) { found.push(m[0] + ' in <' + parent.tagName.toLowerCase() + '.' + parent.className + '> ' + JSON.stringify([...range.getClientRects()].map(r => [r.left, r.bottom, r.width].map(Math.round)))); }
            }
        }
        return found; }""", WHOLE)


def _faults(page, lang: str, width: int, kept: list[str]) -> list[str]:  # noqa: ANN001
    """What is wrong with the page as it is shown now."""
    faults = []
    if page.get_attribute("html", "lang") != lang:
        faults.append(f"page in {page.get_attribute('html', 'lang')}")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        faults.append(f"{scroll} px wide")
    raw = RAW_BY_LANG[lang].findall(_visible_text(page))
    if raw:
        faults.append(f"raw codes {raw}")
    french = _french_left(page, lang, kept)
    if french:
        faults.append(f"French words {french}")
    cut = _cut_choices(page)
    if cut:
        faults.append(f"selects cut {cut}")
    broken = _broken_pieces(page)
    if broken:
        faults.append(f"broken over two lines {broken}")
    if width == PHONE["width"]:
        small = _small_targets(page)
        if small:
            faults.append(f"small targets {small}")
        cut = _cut_options(page)
        if cut:
            faults.append(f"options that would be cut once chosen {cut}")
    return faults


def _open(watch: Watch, path: str) -> None:
    """Go to ``path`` (``@preview``: the upload page after a preview) and wait for what its
    script draws."""
    page = watch.page
    if path == "@preview":
        watch.preview_upload("zones.csv", UPLOAD_CSV)
        page.wait_for_selector("#preview-table tbody tr >> nth=3")
        page.wait_for_load_state("networkidle")
        return
    page.goto(watch.base + path)  # "load": the pages are written by the server (networkidle costs 0.5 s each)
    if path.startswith("/carte"):
        page.wait_for_function("() => document.getElementById('map-pane').dataset.reports !== undefined")
        page.evaluate("""() => { const map = window[document.getElementById('map-pane').dataset.map];
            map.eachLayer(l => { if (l.feature && l.feature.id && l.getPopup()) { l.openPopup(); } }); }""")
    elif path == "/tableau-de-bord":
        page.wait_for_function("() => document.getElementById('map-pane').dataset.state === 'ready'")
        page.evaluate("document.getElementById('filters-box').open = true")  # folded on a phone
    elif path == "/zones":  # what taking a report out says, unfolded
        page.evaluate("document.querySelectorAll('details.zone-take-out').forEach(d => { d.open = true; })")
    elif path == "/validation":
        page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")


def _pages(ids: dict) -> dict[str, list[str]]:
    asked, submitted = ids["needs_info"], ids["submitted"]
    return {
        REP: ["/carte", "/signalements", "/signalements?retires=1", f"/signalements/{asked}",
              f"/signalements/{asked}/modifier", "/import", "@preview", f"/communes/{CHARLEROI}/fiche",
              "/compte", "/compte/mot-de-passe", "/compte/jetons", "/compte/notifications"],
        REF: ["/tableau-de-bord", "/signalements", "/validation", f"/signalements/{submitted}", "/zones",
              "/exports", "/utilisateurs", f"/carte?commune={CHARLEROI}", f"/communes/{CHIMAY}/fiche",
              "/compte", "/compte/notifications"],
    }


#: A laptop's screen: narrower than DESKTOP, where the referent's table of reports overflowed.
LAPTOP = {"width": 1280, "height": 800}


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390", "1280"])
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_page_fits_speaks_dutch_or_english_and_has_big_targets(served, browser, lang: str,  # noqa: ANN001, F811
                                                                     viewport: dict) -> None:
    watch = Watch(browser, served, viewport)  # a French browser: the page's language is the cookie's
    page, width = watch.page, viewport["width"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    cookie = {"name": "geosignal_lang", "value": lang, "url": served["base"]}
    watch.context.add_cookies([cookie])
    faults: list[str] = []
    for path in ("/login", "/compte/mot-de-passe-oublie"):
        page.goto(served["base"] + path)
        faults += [f"{path}: {f}" for f in _faults(page, lang, width, served["kept"])]
        page.screenshot(path=str(SHOTS / f"{lang}-{_slug(path)}-{width}.png"), full_page=True)
    for email, paths in _pages(served["ids"]).items():
        watch.context.clear_cookies()
        watch.context.add_cookies([cookie])
        watch.login(email)
        role = "rep" if email == REP else "ref"
        for path in paths:
            _open(watch, path)
            faults += [f"{role} {path}: {f}" for f in _faults(page, lang, width, served["kept"])]
            slug = _slug(path.replace(served["ids"]["needs_info"], "asked").replace(served["ids"]["submitted"], "submitted"))
            page.screenshot(path=str(SHOTS / f"{lang}-{role}-{slug}-{width}.png"),
                            full_page=not path.startswith("/carte"))
    assert faults == [], "\n".join(faults)
    watch.clean()
    watch.close()


@pytest.mark.parametrize("lang", ["nl", "en", "fr"])
def test_a_file_field_speaks_the_page_language(served, browser, lang: str) -> None:  # noqa: ANN001, F811
    """On a phone, in a French browser, the upload page's file field says « Bestand kiezen » /
    « Choose a file » / « Choisir un fichier » and then the chosen file's name, in the page's
    language (the browser's own button spoke the browser's); the field itself covers them (a
    tap anywhere opens the dialog: 44 px at least), is reached by the keyboard, and is what a
    screen reader reads (the words drawn over it are hidden from it)."""
    words = {"nl": ("Bestand kiezen", "Geen bestand gekozen"), "en": ("Choose a file", "No file chosen"),
             "fr": ("Choisir un fichier", "Aucun fichier choisi")}[lang]
    watch = Watch(browser, served, PHONE)
    watch.context.add_cookies([{"name": "geosignal_lang", "value": lang, "url": served["base"]}])
    watch.login(REP)
    page = watch.page
    page.goto(served["base"] + "/import")
    picker = page.locator("#import-form .file-picker")
    assert picker.inner_text().split("\n") == list(words)
    box, field = picker.bounding_box(), page.locator("#import-file").bounding_box()
    assert box is not None and field is not None and box == field and field["height"] >= 44
    assert page.locator("#import-form .file-picker [aria-hidden=true]").count() == 2
    page.set_input_files("#import-file", files=[{"name": "relevé-mars.csv", "mimeType": "text/csv",
                                                 "buffer": UPLOAD_CSV}])
    assert picker.inner_text().split("\n") == [words[0], "relevé-mars.csv"]
    page.screenshot(path=str(SHOTS / f"{lang}-file-field-390.png"))
    page.evaluate("document.getElementById('import-form').reset()")
    page.wait_for_function("w => document.querySelector('#import-form .file-name').textContent === w", arg=words[1])
    # the keyboard reaches the field: Tab from the field before it (the CSRF field is hidden)
    page.focus("#upload-columns summary")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "import-file"
    page.screenshot(path=str(SHOTS / f"{lang}-file-field-focus-390.png"))
    watch.clean()
    watch.close()


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_zones_page_offers_a_join_that_fits_a_phone(served, browser, lang: str) -> None:  # noqa: ANN001, F811
    """Two zones of one network 1.2 km apart and a report in no zone 800 m east: each card
    offers the other zone to join and the report to add, lists and sentences in the page's
    language, whole on a phone (44 px targets, choices not cut)."""
    database = served["app"].extensions["geosignal.db"]
    with database.session() as session:
        if not session.scalar(select(Report.id).where(Report.description == "Bout du village")):
            admin = session.scalar(select(User).where(User.email == "ui-admin@igretec.com"))
            for dx in (0, 150, 1500, 1650, 2650):
                _add(session, admin, square_lambert(X0 - 2500 + dx, Y0 - 2500, 200), status="submitted",
                     description="Bout du village")
            session.commit()
    watch = Watch(browser, served, PHONE)
    watch.context.add_cookies([{"name": "geosignal_lang", "value": lang, "url": served["base"]}])
    watch.login(REF)
    page = watch.page
    page.goto(served["base"] + "/zones")
    page.evaluate("document.querySelectorAll('details.zone-join').forEach(d => { d.open = true; })")
    joins = page.locator("details.zone-join")
    assert joins.count() >= 2
    said = {"nl": "Samenvoegen met een zone in de buurt", "en": "Join with a nearby area"}[lang]
    assert joins.first.locator("summary").inner_text().startswith(said)
    added = {"nl": "Een melding in de buurt toevoegen", "en": "Add a nearby report"}[lang]
    adds = page.locator("details.zone-join", has_text=added)
    assert adds.count() >= 2
    assert adds.first.locator("button").inner_text() == {"nl": "Toevoegen bevestigen", "en": "Confirm adding it"}[lang]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{lang}-ref-zones-join-390.png"), full_page=True)
    faults = _faults(page, lang, PHONE["width"], served["kept"])
    assert faults == []
    watch.clean()
    watch.close()


def test_the_queue_s_message_keeps_a_reference_whole_on_a_phone(served, browser) -> None:  # noqa: F811
    """After « Een vraag stellen… » on a phone, the queue's message line, written by its script,
    broke « CM- » / « 2026-00002 » over two lines (the pages are checked as they load)."""
    watch = Watch(browser, served, PHONE, touch=True)
    watch.context.add_cookies([{"name": "geosignal_lang", "value": "nl", "url": served["base"]}])
    page = watch.page
    watch.login(REF)
    page.goto(watch.base + "/validation")
    page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
    card = page.eval_on_selector_all("#queue-items li[data-id]", "ls => ls.map(l => l.dataset.id)")[0]
    page.click(f"#q-{card} .queue-action[data-target=needs_info]")
    page.fill(f"#q-{card} textarea[name=reason]", "Welke straat?")
    page.click(f"#q-{card} .queue-confirm")
    page.wait_for_function("() => /CM-\\d{4}-\\d{5}/.test(document.getElementById('queue-summary').textContent)")
    assert re.match(r"Vraag verstuurd voor melding CM-\d{4}-\d{5}\. ", page.inner_text("#queue-summary"))
    page.screenshot(path=str(SHOTS / "nl-queue-message-390.png"), full_page=True)
    assert _broken_pieces(page) == []
    watch.clean()
    watch.close()


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_report_title_s_badge_wraps_on_a_phone(served, browser, lang: str) -> None:  # noqa: ANN001, F811
    """A report forwarded to DWconnect, on phones 390 and 320 px wide: its title's badge
    (« Doorgestuurd naar DWconnect », « Forwarded to DWconnect ») never wrapped, the page was
    406 px wide and scrolled sideways, the badge cut at « DWconnec »: it wraps within the card."""
    said = {"nl": "Doorgestuurd naar DWconnect", "en": "Forwarded to DWconnect"}[lang]
    for width in (390, 320):
        watch = Watch(browser, served, {"width": width, "height": 844}, touch=True)
        watch.context.add_cookies([{"name": "geosignal_lang", "value": lang, "url": served["base"]}])
        watch.login(REP)
        page = watch.page
        page.goto(served["base"] + f"/signalements/{served['ids']['transmitted']}")
        page.wait_for_function("() => document.getElementById('report-map').dataset.ready === '1'")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{lang}-transmitted-title-{width}.png"))
        assert page.inner_text("#status-badge") == said
        fits = page.evaluate("""() => { const b = document.getElementById('status-badge'),
            card = document.getElementById('report').getBoundingClientRect(), r = b.getBoundingClientRect();
            return [document.documentElement.scrollWidth, r.right <= card.right, b.scrollWidth <= b.clientWidth]; }""")
        assert fits == [width, True, True], (width, fits)
        watch.clean()
        watch.close()


@pytest.mark.parametrize("lang", ["fr", "nl", "en"])
def test_the_zones_page_with_zones_passes_axe(served, browser, lang: str) -> None:  # noqa: ANN001, F811
    """The zones page with zones listed (the audit of tests/e2e saw it empty): no serious or
    critical axe-core violation on a phone. The « Proposée » badge every zone starts with was
    white on #b26a00, 4.23:1 under the 4.5:1 its text needs (color-contrast, WCAG 1.4.3)."""
    from tests.e2e.helpers import axe_audit, blocking, describe

    watch = Watch(browser, served, PHONE, touch=True)
    watch.context.add_cookies([{"name": "geosignal_lang", "value": lang, "url": served["base"]}])
    watch.login(REF)
    page = watch.page
    page.goto(served["base"] + "/zones")
    assert page.locator(".zone-item.zone-proposed .badge").count() >= 1
    assert blocking(axe_audit(page)) == [], describe(blocking(axe_audit(page)))
    watch.clean()
    watch.close()
