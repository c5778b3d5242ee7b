"""Hostile round on accounts, sessions and authorisation: what an attacker tries against a
running service, each fault checked by the kind it belongs to (e-mailed links, single-use
links, tokens, cache, text shown back)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from geosignal.models import User
from tests.conftest import configured, csrf_token, make_account

STRONG = "tartine vélo orage lampion"


@pytest.fixture(autouse=True)
def _fresh_limits(fresh_limits) -> None:  # noqa: ANN001
    """Every test of this module starts with empty rate-limit counters."""


def _post(client, path: str, data: dict, page: str, **kw):  # noqa: ANN001, ANN003, ANN202
    token = csrf_token(client.get(page, **kw).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token}, **kw)


def _mailed_links(message) -> list[str]:  # noqa: ANN001
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return re.findall(r"https?://[^\s\"<>]+", text) + re.findall(r'href="([^"]+)"', html)


# ---- e-mailed links: never from the Host header ------------------------------------------------

@pytest.mark.parametrize(("public", "base"), [
    ("", "http://127.0.0.1:5000"), ("https://geosignal.example.be", "https://geosignal.example.be")])
def test_a_reset_link_asked_for_with_another_host_leads_to_the_configured_address(
        app, client, db, smtp_server, public: str, base: str) -> None:  # noqa: ANN001
    """``POST /compte/mot-de-passe-oublie`` sent to the service's address with ``Host:
    evil.example`` mailed the victim ``http://evil.example/compte/reinitialisation?jeton=…``:
    one click gave the attacker the secret, and the account."""
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    with configured(app, PUBLIC_BASE_URL=public):
        asked = _post(client, "/compte/mot-de-passe-oublie", {"email": account.email}, "/compte/mot-de-passe-oublie",
                      base_url="http://evil.example")
        asked.close()
    assert asked.status_code == 302
    [message] = smtp_server.to(account.email)
    links = _mailed_links(message)
    assert len(links) == 2 and all(link.startswith(base + "/compte/reinitialisation?jeton=") for link in links), links
    assert "evil.example" not in message.as_string()


def test_invitations_and_reset_links_made_by_the_referent_are_mailed_with_the_configured_address(
        app, client, db, smtp_server) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    evil = {"base_url": "http://evil.example"}
    page = client.get("/login", **evil)
    client.post("/login", data={"email": referent.email, "password": referent.password,
                                "csrf_token": csrf_token(page.get_data(as_text=True))}, **evil)
    invited = _post(client, "/utilisateurs/inviter", {"email": "clerc@fleurus.be", "role": "representative",
                                                      "commune": "52021"}, "/utilisateurs", **evil)
    assert invited.status_code == 302
    user = db.scalar(select(User).where(User.email == "clerc@fleurus.be"))
    linked = _post(client, f"/utilisateurs/{user.id}/lien", {}, "/utilisateurs", **evil)
    assert linked.status_code == 302
    invitation, reset = smtp_server.to("clerc@fleurus.be")
    assert [link.split("?")[0] for link in _mailed_links(invitation)] == [
        "http://127.0.0.1:5000/compte/invitation"] * 2
    assert [link.split("?")[0] for link in _mailed_links(reset)] == [
        "http://127.0.0.1:5000/compte/reinitialisation"] * 2
