"""Helpers of the end-to-end browser suite (tests/e2e): the demo accounts and seeded data,
the served instance, a browser context per language and screen size, the axe-core audit and
the screenshots. Fixtures are in ``tests/e2e/conftest.py``."""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, CHARLEROI, ROOT
from tests.stub_services import StubServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
E2E_ARTIFACTS = ARTIFACTS / "e2e"

PASSWORD = "correct horse battery"
#: The demo accounts (the roles ``geosignal create-demo-users`` makes, with known passwords).
REPRESENTATIVE = "charleroi@geosignal.local"
REFERENT = "referent@geosignal.local"
ADMIN = "admin@geosignal.local"

#: Languages of the pages, each with the browser locale that asks for it (Accept-Language).
LANGUAGES = {"fr": "fr-BE", "nl": "nl-BE", "en": "en-GB"}
#: Screen sizes: a phone and a desktop.
SIZES = {"390x844": {"width": 390, "height": 844}, "1440x900": {"width": 1440, "height": 900}}

#: Impacts that fail the audit.
BLOCKING = ("serious", "critical")


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



@dataclass
class Seed:
    """What the scratch database holds besides the communes: the seeded reports' ids by
    status (Charleroi) and one Chimay report, an invitation and a reset link secret."""

    url: str
    reports: dict[str, str] = field(default_factory=dict)
    chimay_report: str = ""
    invitation: str = ""
    reset: str = ""


def _path_to(status: str) -> list[Any]:
    """The shortest chain of transitions (:data:`geosignal.workflow.TRANSITIONS`) from
    ``submitted`` to ``status``; empty for ``submitted`` and ``draft`` (created as such)."""
    from geosignal import workflow

    paths: dict[str, list[Any]] = {"submitted": [], "draft": []}
    frontier = ["submitted"]
    while frontier:
        source = frontier.pop(0)
        for t in workflow.from_status(source):
            if t.target not in paths:
                paths[t.target] = [*paths[source], t]
                frontier.append(t.target)
    return paths[status]


def seed_database(url: str) -> Seed:
    """Create the demo accounts, one Charleroi report in each status and one in Chimay, an
    invitation and a password-reset link (their pages are audited; GET does not use them)."""
    from geosignal import vocab
    from geosignal.db import Database
    from geosignal.geo import LAMBERT72, WGS84, reproject
    from geosignal.services import accounts
    from geosignal.services import reports as reports_service
    from geosignal.services import workflow as workflow_service
    from geosignal.services.intake import ReportInput
    from geosignal.services.users import create_user
    from tests.factories import CHARLEROI_LAMBERT72, square_lambert

    seed = Seed(url)
    database = Database(url)
    x0, y0 = CHARLEROI_LAMBERT72
    try:
        with database.session() as session:
            create_user(session, REPRESENTATIVE, "representative", CHARLEROI, PASSWORD)
            referent = create_user(session, REFERENT, "referent", None, PASSWORD)
            admin = create_user(session, ADMIN, "admin", None, PASSWORD)
            session.flush()

            def add(geom_31370: Any, **props: Any) -> str:
                properties = {"network": "mobile", "technologies": ["4G", "DSL"], "operators": ["Proximus"],
                              "issue": "no_coverage", "setting": "outdoor",
                              "observed_at": datetime(2024, 3, 5, 10, 0, tzinfo=UTC), **props}
                status = properties.pop("status", "submitted")
                feature, _ = reports_service.create_report(
                    session, admin, ReportInput(reproject(geom_31370, LAMBERT72, WGS84), properties), status=status)
                return feature["id"]

            for i, status in enumerate(vocab.STATUSES):
                seed.reports[status] = add(square_lambert(x0 - 4000 + 700 * i, y0 + 2500, 400),
                                           description=f"Rue n° {i}, côté l'église",
                                           **({"status": "draft"} if status == "draft" else {}))
                for move in _path_to(status):
                    workflow_service.transition(session, seed.reports[status], move.target,
                                                referent if "referent" in move.roles else admin,
                                                f"E2E : {move.action}" if move.text else None)
            # Chimay centre, EPSG:31370
            seed.chimay_report = add(square_lambert(145650, 76800, 600), network="fixed",
                                     technologies=["fibre"], operators=["VOO"], description="Hameau sans fibre")
            _, seed.invitation = accounts.invite(session, admin, "invitee@charleroi.be", "representative", CHARLEROI)
            _, seed.reset = accounts.request_reset(session, REPRESENTATIVE)
            session.commit()
    finally:
        database.engine.dispose()
    return seed


@dataclass
class Served:
    """``geosignal serve`` running: its base URL, the seeded data, the stub, its log file."""

    base: str
    seed: Seed
    stub: StubServer
    log: Path

    def sql(self, statement: str, **params: Any) -> list[tuple]:
        """Run one SQL statement on the served database (its own connection); return the rows."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.seed.url)
        try:
            with engine.begin() as c:
                result = c.execute(text(statement), params)
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()


class Visit:
    """A browser context (one language, one screen size) with one page, recording console
    errors, uncaught exceptions and requests to anywhere but geosignal and the stub."""

    def __init__(self, chromium: Any, served: Served, lang: str = "fr", size: str = "1440x900") -> None:
        viewport = SIZES[size]
        phone = viewport["width"] < 600
        self.context = chromium.new_context(viewport=viewport, locale=LANGUAGES[lang], has_touch=phone,
                                            device_scale_factor=1, timezone_id="Europe/Brussels")
        self.page = self.context.new_page()
        self.base, self.lang, self.size, self.width = served.base, lang, size, viewport["width"]
        self.errors: list[str] = []
        self.outside: list[str] = []
        allowed = (served.base, served.stub.base, "data:", "blob:")
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: r.url.startswith(allowed) or self.outside.append(r.url))

    def login(self, email: str) -> None:
        """Sign in through the login form; fail with the page's text when it does not work."""
        self.page.goto(self.base + "/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", PASSWORD)
        with self.page.expect_navigation():
            self.page.click("main form button[type=submit]")
        assert "/login" not in self.page.url, self.page.inner_text("main")

    def clean(self, expected: tuple[str, ...] = ()) -> None:
        """Assert no console error (but ``expected`` ones) and no request outside."""
        assert [e for e in self.errors if not any(x in e for x in expected)] == []
        assert self.outside == []

    def close(self) -> None:
        self.context.close()


_AXE_SOURCE: list[str] = []
#: Every audit's violations in this run (page, language, size, path, violations), printed at the
#: end of the run and written to ``test-artifacts/e2e/axe.json``.
AXE_FINDINGS: list[dict[str, Any]] = []


def axe_audit(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on ``page`` and return its violations (id, impact, help, nodes' targets).

    axe is evaluated through the DevTools protocol (``page.evaluate``), which the page's
    Content-Security-Policy does not apply to; the page itself keeps its strict CSP.
    Rules: WCAG 2.0, 2.1 and 2.2 A and AA (touch-target size included), and axe's best practices.
    """
    if not _AXE_SOURCE:
        if not AXE.is_file():
            pytest.fail(f"{AXE} missing: run `npm ci` (axe-core is in package.json)")
        _AXE_SOURCE.append(AXE.read_text(encoding="utf-8"))
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_AXE_SOURCE[0] + "\n;undefined")
    return page.evaluate("""async () => {
        const result = await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa', 'best-practice']},
            resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160),
                                      summary: (n.failureSummary || '').slice(0, 300)}))}));
    }""")


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the serious and critical violations among ``violations``."""
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    """Return violations as readable lines (rule, impact, help, first nodes)."""
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} nodes)")
        for n in v["nodes"][:4]:
            lines.append(f"      {n['target']}  {n['html']}")
            if n["summary"]:
                lines.append("        " + n["summary"].replace("\n", " | "))
    return "\n".join(lines)


def shot(page: Any, lang: str, size: str, name: str, full_page: bool = True) -> Path:
    """Save a screenshot as ``test-artifacts/e2e/<lang>/<size>/<name>.png``; return its path."""
    path = E2E_ARTIFACTS / lang / size / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path
