"""Account flows as a person goes through them, in headless Chromium against the live app and
a real local SMTP server: the referent invites a representative, who accepts the invitation
from the e-mail, signs in, makes an API token, uses and revokes it, and changes the password;
then forgets it and resets it by e-mail.
Screenshots at phone and desktop sizes in ``test-artifacts/``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select

from geosignal.models import AccountToken, User
from geosignal.ratelimit import limiter
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, configured, owner_session
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
FIRST = "grenier mouette tricot ardoise"
SECOND = "girafe clavier nuage pelouse"


@pytest.fixture
def account_server(app, smtp_server) -> Iterator[str]:  # noqa: ANN001
    """geosignal on a free port with a committed referent; accounts removed afterwards."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, "acct-ref@igretec.com", "referent", None, PASSWORD)
        session.commit()
    with app.app_context():
        limiter.reset()
    with serving(app) as base, configured(app, PUBLIC_BASE_URL=base):  # the address e-mailed links lead to
        yield base
    with owner_session(database) as session:
        ids = select(User.id).where(User.email.like("acct-%"))
        session.execute(delete(AccountToken).where(AccountToken.user_id.in_(ids)))
        session.execute(delete(User).where(User.email.like("acct-%")))
        session.commit()



def _signed_in_header(page) -> None:  # noqa: ANN001
    """Wait for the page after signing in (the header with the sign-out button: read at once,
    the header could still be the sign-in page's while the browser was already at /carte),
    then check that it names the account."""
    page.locator("header").get_by_text("Se déconnecter").wait_for()
    assert "acct-clerc@fleurus.be" in page.inner_text("header")


def _link(message) -> str:  # noqa: ANN001
    match = re.search(r"http://\S+\?jeton=[\w-]+", message.get_body(("plain",)).get_content())
    assert match
    return match.group(0)


def _shot(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height, size in ((390, 844, "phone"), (1440, 900, "desktop")):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"account-{name}-{size}.png"), full_page=True)


def test_invitation_then_password_change_then_reset(browser, account_server, smtp_server, caplog) -> None:  # noqa: ANN001, F811
    caplog.set_level("INFO", logger="geosignal")  # a mail not sent says why (the server's thread logs it)
    referent = PageWatch(browser, account_server)
    referent.page.goto(account_server + "/login")
    referent.page.fill("input[name=email]", "acct-ref@igretec.com")
    referent.page.fill("input[name=password]", PASSWORD)
    referent.page.click("main button[type=submit]")
    referent.page.wait_for_load_state("networkidle")  # the dashboard's data, before leaving it
    referent.page.click("text=Comptes")
    referent.page.fill("input[name=email]", "acct-clerc@fleurus.be")
    referent.page.select_option("select[name=commune]", "52022")
    referent.page.click("text=Envoyer l'invitation")
    assert "Invitation envoyée à acct-clerc@fleurus.be" in referent.page.locator(".flash.success").inner_text()
    _shot(referent.page, "users")
    referent.assert_clean()

    [invitation] = smtp_server.wait_to("acct-clerc@fleurus.be", 1)
    assert invitation.get_body(("html",)) is not None
    invitee = PageWatch(browser, account_server)
    page = invitee.page
    page.goto(_link(invitation))
    assert "acct-clerc@fleurus.be" in page.inner_text("main")
    page.fill("input[name=password]", "azertyuiop12")
    page.click("main button[type=submit]")
    assert page.get_by_role("alert").inner_text().startswith("Mot de passe trop")
    _shot(page, "invitation-refused")
    invitee.failed.clear()  # the 422 of the refused password is expected
    page.fill("input[name=password]", FIRST)
    page.click("main button[type=submit]")
    page.fill("input[name=email]", "acct-clerc@fleurus.be")
    page.fill("input[name=password]", FIRST)
    page.click("main button[type=submit]")
    _signed_in_header(page)
    page.wait_for_load_state("networkidle")  # the map's data, before leaving the page

    page.click("text=Jetons API")
    page.fill("input[name=name]", "QGIS urbanisme")
    page.fill("input[name=days]", "30")
    page.fill("input[name=current_password]", FIRST)
    page.click("main button[type=submit]")
    secret = page.input_value("#new-token")
    assert len(secret) == 43 and "QGIS urbanisme" in page.inner_text("#tokens")
    _shot(page, "tokens")
    api = page.request.get(account_server + "/api/v1/reports", headers={"Authorization": f"Bearer {secret}"})
    assert api.status == 200
    page.click("#tokens button[type=submit]")  # revoke
    assert "Jeton révoqué" in page.locator(".flash.success").inner_text()
    assert "révoqué" in page.inner_text("#tokens")
    assert page.request.get(account_server + "/api/v1/reports",
                            headers={"Authorization": f"Bearer {secret}"}).status == 401

    page.click("text=Mot de passe")
    page.fill("input[name=current_password]", FIRST)
    page.fill("input[name=password]", SECOND)
    _shot(page, "password-change")
    page.click("main button[type=submit]")
    assert "Mot de passe changé" in page.locator(".flash.success").inner_text()  # waits for the new page
    # the map's data, before signing out: a fetch the server takes after the sign-out answers 401
    page.wait_for_load_state("networkidle")
    page.click("text=Se déconnecter")

    page.click("text=Mot de passe oublié ?")
    page.fill("input[name=email]", "acct-clerc@fleurus.be")
    _shot(page, "forgot")
    page.click("main button[type=submit]")
    assert "Si un compte existe pour cette adresse" in page.locator(".flash.success").inner_text()
    # (sent after the answer, so that a slow mail server tells nothing: it may come after the page,
    # and after or before the token's notice: waited for by subject, not by count)
    reset = smtp_server.wait_for("acct-clerc@fleurus.be", "réinitialiser", timeout=60.0)
    # on failure, what geosignal logged (the request log, werkzeug's, hid it in a CI run)
    assert len(reset) == 1, (smtp_server.subjects(),
                             [r.getMessage() for r in caplog.records if r.name.startswith("geosignal")])
    assert len(smtp_server.wait_for("acct-clerc@fleurus.be", "un jeton API a été créé")) == 1
    page.goto(_link(reset[0]))
    page.fill("input[name=password]", FIRST + " bis")
    _shot(page, "reset")
    page.click("main button[type=submit]")
    page.fill("input[name=email]", "acct-clerc@fleurus.be")
    page.fill("input[name=password]", FIRST + " bis")
    page.click("main button[type=submit]")
    _signed_in_header(page)
    page.wait_for_load_state("networkidle")  # the map's data, before leaving the page
    page.goto(_link(reset[0]))
    assert "Ce lien a expiré ou a déjà servi" in page.inner_text("main")
    invitee.failed = [f for f in invitee.failed if not f.startswith("410 ") and not f.endswith("favicon.svg")]
    # the browser logs the expected 422 (refused password) and 410 (used link) as console errors
    invitee.errors = [e for e in invitee.errors if not re.search(r"status of (422|410)", e)]
    invitee.assert_clean()


def test_deactivation_is_confirmed_on_its_own_page_and_undone_by_an_admin(browser, account_server, smtp_server,  # noqa: ANN001, F811
                                                                          app) -> None:
    """« Désactiver » leads to a confirmation page, in a browser running no script at all;
    « Annuler » changes nothing, « Oui, désactiver » deactivates; an admin's « Réactiver »
    e-mails a new invitation."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, "acct-echevin@fleurus.be", "representative", "52021", PASSWORD)
        create_user(session, "acct-admin@igretec.com", "admin", None, PASSWORD)
        session.commit()
    context = browser.new_context(java_script_enabled=False, locale="fr-BE", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    answers: list[str] = []
    page.on("response", lambda r: r.status >= 400 and answers.append(f"{r.status} {r.url}"))
    page.goto(account_server + "/login")
    page.fill("input[name=email]", "acct-ref@igretec.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(account_server + "/utilisateurs")
    row = page.locator("#users tr", has_text="acct-echevin@fleurus.be")
    row.get_by_role("button", name="Désactiver").click()
    assert page.locator("h1").inner_text() == "Confirmer : désactiver le compte acct-echevin@fleurus.be"
    _shot(page, "deactivate-confirm")
    page.get_by_role("link", name="Annuler").click()
    assert page.url == account_server + "/utilisateurs" and "actif" in row.inner_text()
    row.get_by_role("button", name="Désactiver").click()
    page.get_by_role("button", name="Oui, désactiver").click()
    assert "Compte acct-echevin@fleurus.be désactivé" in page.locator(".flash.success").inner_text()
    assert "désactivé" in row.inner_text() and row.get_by_role("button", name="Réactiver").count() == 0
    assert answers == []
    context.close()
    admin = PageWatch(browser, account_server)
    admin.login("acct-admin@igretec.com")
    admin.page.goto(account_server + "/utilisateurs")
    admin.page.locator("#users tr", has_text="acct-echevin@fleurus.be").get_by_role("button", name="Réactiver").click()
    assert "Compte acct-echevin@fleurus.be réactivé" in admin.page.locator(".flash.success").inner_text()
    assert smtp_server.wait_for("acct-echevin@fleurus.be", "réactivé")
    admin.assert_clean()
