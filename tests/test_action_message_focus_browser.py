"""Focus on the message a page comes back with after an action, when that message is in the
page's card rather than in the flashes at the top (``nav.js`` focuses ``.flashes .flash`` and
``[data-focus-on-load]``): after « Créer un jeton » the new token, shown once, was in a
``p.flash.success`` that nothing focused, and focus stayed on ``<body>``; so was the
unsubscribe page's « C'est fait ». In headless Chromium (Debian's, via Playwright)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from geosignal.models import User
from geosignal.services.users import create_user
from tests.conftest import owner_session
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)

REF = "msgfocus-ref@igretec.com"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_every_success_message_outside_the_flashes_is_focused_on_load() -> None:
    """Every ``flash success`` a template writes itself (not through ``flash()``, whose
    messages ``base.html`` puts in ``.flashes``) carries ``data-focus-on-load``."""
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        if template.name == "base.html":
            continue
        for tag in re.findall(r"<[a-z]+[^>]*class=\"flash success[^\"]*\"[^>]*>", template.read_text()):
            found.append((template.name, "data-focus-on-load" in tag))
    assert found == [("account_tokens.html", True), ("account_unsubscribe.html", True)]


@pytest.fixture(scope="module")
def server(app) -> Iterator[str]:  # noqa: ANN001
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, REF, "referent", None, PASSWORD)
        session.commit()
    with serving(app) as base:
        yield base
    with owner_session(database) as session:
        session.execute(delete(User).where(User.email.like("msgfocus-%")))
        session.commit()


@pytest.mark.browser
def test_focus_goes_to_the_new_token(server, browser) -> None:  # noqa: ANN001, F811
    watch = PageWatch(browser, server)
    watch.login(REF)
    page = watch.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/compte/jetons")
    page.fill("main input[name=name]", "Export nocturne")
    page.fill("main input[name=current_password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_selector("#new-token")
    focused = page.evaluate("() => { const a = document.activeElement;"
                            " return [a.tagName, a.contains(document.getElementById('new-token'))]; }")
    assert focused == ["P", True]
    watch.context.close()
