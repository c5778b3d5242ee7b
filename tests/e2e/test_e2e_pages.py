"""Every page, at 390×844 and 1440×900, in French, Dutch and English, as served by
``geosignal serve``: a screenshot in ``test-artifacts/e2e/<lang>/<size>/<page>.png``, nothing
wider than the screen, no console error or request leaving geosignal and the local stub, and
an axe-core audit with no serious or critical violation (all violations are printed).

Adding a page is one line in :data:`PAGES`. A page reached by a form (the confirmation of a
withdraw or a reject) names the form to send from the page it opens first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHIMAY
from tests.e2e.helpers import (
    ADMIN,
    AXE_FINDINGS,
    CHARLEROI,
    LANGUAGES,
    REFERENT,
    REPRESENTATIVE,
    SIZES,
    Served,
    Visit,
    axe_audit,
    blocking,
    describe,
    shot,
)

ROOT = Path(__file__).resolve().parents[2]

#: Waits, as JavaScript expressions that become true when the page has drawn what it loads.
MAP_READY = "() => { const p = document.getElementById('map-pane'); return p && p.dataset.reports !== undefined; }"
DASHBOARD_READY = "() => document.getElementById('map-pane').dataset.state === 'ready'"
LEAFLET_DRAWN = "() => document.querySelector('.leaflet-overlay-pane svg path') !== null"


QUEUE_READY = "() => document.getElementById('queue').dataset.state === 'ready'"
REPORT_READY = "() => document.getElementById('report-map').dataset.ready === '1'"


@dataclass(frozen=True)
class PageSpec:
    """One page: its artifact name, the account that opens it (None: signed out), its path
    (``{report}`` — the seeded Charleroi report in status ``report_status`` —,
    ``{chimay_report}``, ``{invitation}``, ``{reset}`` filled from the seeded data), what to
    wait for, the expected HTTP status, and ``form``: the selector of a form of that page to
    send (its text fields filled) when the page audited is the one that form answers."""

    name: str
    account: str | None
    path: str
    ready: str = ""
    status: int = 200
    report_status: str = "submitted"
    form: str = ""


PAGES: list[PageSpec] = [
    PageSpec("login", None, "/login"),
    PageSpec("forgot-password", None, "/compte/mot-de-passe-oublie"),
    PageSpec("reset-password", None, "/compte/reinitialisation?jeton={reset}"),
    PageSpec("invitation", None, "/compte/invitation?jeton={invitation}"),
    PageSpec("error-404", None, "/nulle-part", status=404),
    PageSpec("map", REPRESENTATIVE, "/carte", ready=MAP_READY),
    PageSpec("reports", REPRESENTATIVE, "/signalements"),
    PageSpec("report", REPRESENTATIVE, "/signalements/{report}", ready=REPORT_READY),
    PageSpec("report-rejected", REPRESENTATIVE, "/signalements/{report}", ready=REPORT_READY,
             report_status="rejected"),
    PageSpec("report-edit", REPRESENTATIVE, "/signalements/{report}/modifier", ready=REPORT_READY),
    PageSpec("withdraw-confirm", REPRESENTATIVE, "/signalements/{report}",
             form="form.action-form[data-action=withdraw]"),
    PageSpec("import", REPRESENTATIVE, "/import"),
    PageSpec("commune-sheet", REPRESENTATIVE, f"/communes/{CHARLEROI}/fiche", ready=LEAFLET_DRAWN),
    PageSpec("account", REPRESENTATIVE, "/compte"),
    PageSpec("notifications", REPRESENTATIVE, "/compte/notifications"),
    PageSpec("password", REPRESENTATIVE, "/compte/mot-de-passe"),
    PageSpec("tokens", REPRESENTATIVE, "/compte/jetons"),
    PageSpec("error-403", REPRESENTATIVE, "/exports", status=403),
    PageSpec("dashboard", REFERENT, "/tableau-de-bord", ready=DASHBOARD_READY),
    PageSpec("validation", REFERENT, "/validation", ready=QUEUE_READY),
    PageSpec("zones", REFERENT, "/zones"),
    PageSpec("report-referent", REFERENT, "/signalements/{report}", ready=REPORT_READY),
    PageSpec("reject-confirm", REFERENT, "/signalements/{report}", form="form.action-form[data-action=reject]"),
    PageSpec("reports-referent", REFERENT, "/signalements"),
    PageSpec("map-referent", REFERENT, f"/carte?commune={CHIMAY}", ready=MAP_READY),
    PageSpec("commune-sheet-referent", REFERENT, f"/communes/{CHIMAY}/fiche", ready=LEAFLET_DRAWN),
    PageSpec("notifications-referent", REFERENT, "/compte/notifications"),
    PageSpec("exports", REFERENT, "/exports"),
    PageSpec("users", ADMIN, "/utilisateurs"),
    PageSpec("journal", ADMIN, "/admin/journal"),
    PageSpec("api-docs", REFERENT, "/api/v1/docs"),
    PageSpec("ogc", REFERENT, "/ogc"),
    PageSpec("ogc-collections", REFERENT, "/ogc/collections"),
    PageSpec("ogc-items", REFERENT, "/ogc/collections/white-zones/items?limit=5"),
]


def _lang_is_set() -> bool:
    """Whether the pages declare their language (``<html lang>`` no longer written as French in
    templates/base.html); until then every page says ``fr`` and only French is checked."""
    return '<html lang="fr">' not in (ROOT / "templates" / "base.html").read_text(encoding="utf-8")


def _wider(page: Any, width: int) -> list[str]:  # noqa: ANN401
    """The innermost elements whose right edge passes ``width`` (to say what to fix)."""
    return page.evaluate("""width => Array.from(document.body.querySelectorAll('*')).filter(e => {
            const r = e.getBoundingClientRect();
            return r.right > width + 1 && r.width > 0
                && !Array.from(e.children).some(c => c.getBoundingClientRect().right > width + 1);
        }).slice(0, 6).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined
            ? '.' + String(e.className).trim().replace(/\\s+/g, '.') : '') + ' ' + Math.round(e.getBoundingClientRect().width) + 'px')""",
                         width)


class Sessions:
    """Signed-in pages reused from test to test: one context per account for the current
    language and size (the others are closed when the language or size changes)."""

    def __init__(self, chromium: Any, served: Served) -> None:
        self.chromium, self.served = chromium, served
        self.key: tuple[str, str] | None = None
        self.open: dict[str | None, Visit] = {}

    def get(self, lang: str, size: str, account: str | None) -> Visit:
        if self.key != (lang, size):
            self.close()
            self.key = (lang, size)
        if account not in self.open:
            visit = Visit(self.chromium, self.served, lang, size)
            if account is not None:
                visit.login(account)
            self.open[account] = visit
        visit = self.open[account]
        visit.errors.clear()
        visit.outside.clear()
        return visit

    def close(self) -> None:
        for visit in self.open.values():
            visit.close()
        self.open = {}


@pytest.fixture(scope="module")
def sessions(chromium: Any, served: Served) -> Iterator[Sessions]:  # noqa: ANN401
    """The signed-in pages; first, the referent records one export run (a GET of the DWconnect
    export: nothing is marked as transmitted), so that the exports page lists a run."""
    keep = Sessions(chromium, served)
    answer = keep.get("fr", "1440x900", REFERENT).page.request.get(served.base + "/api/v1/exports/dwconnect")
    assert answer.status == 200 and answer.headers.get("x-export-run"), answer.status
    yield keep
    keep.close()


CASES = [(lang, size, spec) for lang in LANGUAGES for size in SIZES for spec in PAGES]


@pytest.mark.parametrize(("lang", "size", "spec"), CASES,
                         ids=[f"{lang}-{size}-{spec.name}" for lang, size, spec in CASES])
def test_page(sessions: Sessions, served: Served, lang: str, size: str, spec: PageSpec) -> None:
    visit = sessions.get(lang, size, spec.account)
    page = visit.page
    seed = served.seed
    path = spec.path.format(report=seed.reports[spec.report_status], chimay_report=seed.chimay_report,
                            invitation=seed.invitation, reset=seed.reset)
    answer = page.goto(served.base + path)
    assert answer.status == spec.status, f"{path} answered {answer.status}"
    if spec.form:
        form = page.locator(spec.form)
        assert form.count() == 1, f"{spec.form} not on {path}"
        for area in form.locator("textarea").all():
            area.fill("Motif de l'essai : zone déjà couverte")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert page.locator("#confirm-button").count() == 1, page.inner_text("main")
    if spec.ready:
        page.wait_for_function(spec.ready, timeout=15_000)
    if lang == "fr" or _lang_is_set():
        assert page.get_attribute("html", "lang") == lang
    width = page.evaluate("document.documentElement.scrollWidth")
    shot(page, lang, size, spec.name)
    violations = axe_audit(page)
    AXE_FINDINGS.append({"page": spec.name, "lang": lang, "size": size, "path": spec.path, "violations": violations})
    if violations:
        print(f"\naxe on {spec.name} ({lang}, {size}), {path}:\n{describe(violations)}")
    problems = []
    if width > visit.width:
        problems.append(f"{width} px wide at {visit.width} px; sticking out: {_wider(page, visit.width)}")
    if blocking(violations):
        problems.append(f"axe: serious or critical violations:\n{describe(blocking(violations))}")
    expected = ("status of 404", "status of 403") if spec.status in (403, 404) else ()
    stray = [e for e in visit.errors if not any(x in e for x in expected)]
    if stray:
        problems.append(f"console errors: {stray}")
    if visit.outside:
        problems.append(f"requests outside geosignal and the stub: {visit.outside}")
    assert not problems, f"{spec.name} ({lang}, {size}): " + "\n".join(problems)
