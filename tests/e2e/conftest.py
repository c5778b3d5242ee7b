"""End-to-end browser suite: the real ``geosignal serve`` (gunicorn master, web workers, job
worker) on a free 127.0.0.1 port, against its own scratch PostGIS database holding the 30 real
communes, demo accounts and a few reports; a local stub for the address search and the base
map; Debian's Chromium driven by Playwright; axe-core (``node_modules/axe-core``) for the
accessibility audit.

Run it alone with ``pytest tests/e2e`` (marker ``e2e``). One server and one browser serve the
whole session. Screenshots go to ``test-artifacts/e2e/<lang>/<size>/<page>.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import COMMUNES_FILE, ROOT
from tests.e2e.helpers import (
    AXE_FINDINGS,
    CHROMIUM,
    E2E_ARTIFACTS,
    Seed,
    Served,
    Visit,
    free_port,
    seed_database,
)
from tests.stub_services import StubServer, stub_services


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end browser suite against geosignal serve (pytest tests/e2e)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: Any) -> None:  # noqa: ANN401
    """Print the axe-core findings of the run (every impact) and save them as JSON."""
    if not AXE_FINDINGS:
        return
    E2E_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (E2E_ARTIFACTS / "axe.json").write_text(json.dumps(AXE_FINDINGS, indent=1, ensure_ascii=False), encoding="utf-8")
    audited = len(AXE_FINDINGS)
    found = Counter((v["impact"], v["id"]) for f in AXE_FINDINGS for v in f["violations"])
    terminalreporter.section("axe-core")
    terminalreporter.write_line(f"{audited} audits; violations by impact and rule (pages affected); "
                                f"details in {E2E_ARTIFACTS / 'axe.json'}")
    for (impact, rule), n in sorted(found.items()):
        pages = sorted({f"{f['page']} ({f['lang']}, {f['size']})" for f in AXE_FINDINGS
                        if any(v["id"] == rule for v in f["violations"])})
        terminalreporter.write_line(f"  [{impact}] {rule}: {n} — {', '.join(pages[:6])}{' …' if len(pages) > 6 else ''}")
    if not found:
        terminalreporter.write_line("  none")


@pytest.fixture(scope="session")
def e2e_database() -> Iterator[Seed]:
    """A scratch database of its own (migrated, 30 communes, demo accounts, seeded reports)."""
    from geosignal.devdb import scratch_database

    with scratch_database("geosignal_e2e", COMMUNES_FILE) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        database.engine.dispose()
        yield seed_database(url)


@pytest.fixture(scope="session")
def stub() -> Iterator[StubServer]:
    """The local address search, XYZ tiles and WMS (tests/stub_services.py)."""
    with stub_services() as server:
        yield server


# ---------------------------------------------------------------------------- the server

@pytest.fixture(scope="session")
def served(e2e_database: Seed, stub: StubServer) -> Iterator[Served]:
    """The real ``geosignal serve`` (2 web workers, 1 job worker) on a free loopback port, in
    production mode with the strict CSP, base maps and address search on the local stub."""
    port = free_port()
    instance = Path(tempfile.mkdtemp(prefix="geosignal-e2e-"))
    log = instance / "serve.log"
    layers = [{"name": "Plan", "type": "xyz", "url": stub.base + "/tiles/{z}/{x}/{y}.png",
               "attribution": "© tuiles locales de test"}]
    env = {**os.environ,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "GEOSIGNAL_ENV": "production",
           "GEOSIGNAL_DATABASE_URL": e2e_database.url,
           "GEOSIGNAL_SECRET_KEY": os.urandom(32).hex(),
           "GEOSIGNAL_INSTANCE_PATH": str(instance),
           "GEOSIGNAL_BASEMAPS": json.dumps(layers),
           "GEOSIGNAL_GEOCODER_URL": stub.base + "/search",
           "GEOSIGNAL_WRITE_RATE_LIMIT": "100000 per minute",
           "GEOSIGNAL_SMTP_HOST": ""}
    command = [sys.executable, "-c", "from geosignal.cli import main; main()", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "2", "--job-workers", "1"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, cwd=instance, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"geosignal serve stopped at start:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"geosignal serve not ready after 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Served(base, e2e_database, stub, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(instance, ignore_errors=True)


# --------------------------------------------------------------------------- the browser

@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, launched by Playwright (no browser download); one per
    module, so that the other browser tests' own Playwright can start after this suite."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required for the browser suite (apt-get install chromium)")
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"])
        yield browser
        browser.close()


@pytest.fixture
def visit(chromium: Any, served: Served) -> Iterator[Callable[..., Visit]]:
    """A factory of :class:`Visit` contexts, closed at the end of the test."""
    made: list[Visit] = []

    def make(lang: str = "fr", size: str = "1440x900") -> Visit:
        made.append(Visit(chromium, served, lang, size))
        return made[-1]

    yield make
    for v in made:
        v.close()
