"""Accounts against a referent, an administrator or a stolen session (security review): a
password its owner chose is changed by its owner alone — the link to choose another goes only
to the account's address, never to the person who asked, and without a mail server none is
made —; every act on an account is in the journal (who, for whom, how); an API token asks for
the current password, and a password change can revoke the tokens made meanwhile."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select, text

from geosignal.models import AccountToken, ApiToken, User
from tests.conftest import configured, csrf_token, make_account
from tests.test_accounts import MAILED_BASE, STRONG, _link

OWNER = "bourgmestre@chatelet.be"


def _events(db, action: str, account: str = OWNER) -> list[tuple]:  # noqa: ANN001
    """The journal's ``action`` events about ``account``, oldest first: (actor's role, actor's
    e-mail, commune, details)."""
    return db.execute(text("SELECT e.actor_role, u.email, e.commune_nis, e.details FROM audit_events e "
                           "LEFT JOIN users u ON u.id = e.actor_id WHERE e.action = :a "
                           "AND e.details->>'account_email' = :account ORDER BY e.id"),
                      {"a": action, "account": account}).all()


def _ask_link(referent, user_id: int):  # noqa: ANN001, ANN202
    page = referent.client.get("/utilisateurs").get_data(as_text=True)
    return referent.client.post(f"/utilisateurs/{user_id}/lien", data={"csrf_token": csrf_token(page)})


def test_without_mail_a_password_its_owner_chose_is_never_handed_to_the_referent(app, client, db) -> None:  # noqa: ANN001
    assert not app.config.get("SMTP_HOST")
    owner = make_account(client, db, OWNER, "representative", "52012")  # signed in with a password of her own
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    referent.login()
    user = db.scalar(select(User).where(User.email == OWNER))
    answer = _ask_link(referent, user.id)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert ("bourgmestre@chatelet.be a choisi son mot de passe : un lien pour en choisir un autre ne part que par "
            "e-mail, à cette adresse, jamais à la personne qui le demande. Aucun serveur d&#39;e-mail n&#39;est "
            "configuré : l&#39;exploitant du service peut en fixer un au terminal (geosignal set-password).") in html
    assert 'id="shown-link"' not in html and "reinitialisation?jeton=" not in html
    assert db.scalar(select(AccountToken).where(AccountToken.user_id == user.id, AccountToken.purpose == "reset")) is None
    assert _events(db, "reset_link") == []
    assert owner.login().status_code == 302  # her password still works


def test_with_mail_the_link_goes_to_its_owner_alone_and_the_journal_says_who_gave_it(app, client, db,  # noqa: ANN001
                                                                                     smtp_server) -> None:
    make_account(client, db, OWNER, "representative", "52012")
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    referent.login()
    user = db.scalar(select(User).where(User.email == OWNER))
    answer = _ask_link(referent, user.id)
    assert answer.status_code == 302
    page = referent.client.get("/utilisateurs").get_data(as_text=True)
    assert "Lien envoyé à bourgmestre@chatelet.be (valable une heure)." in page
    assert "reinitialisation?jeton=" not in page  # not shown: mailed to her address only
    path = _link(smtp_server.wait_to(OWNER, 1)[0], "/compte/reinitialisation")
    assert _events(db, "reset_link") == [("referent", "referent@igretec.com", "52012", {
        "account_id": user.id, "account_email": OWNER, "account_role": "representative", "delivered": "mail"})]
    form = client.get(path)
    done = client.post("/compte/reinitialisation", data={"jeton": path.split("jeton=")[1], "password": STRONG,
                                                         "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert done.status_code == 302
    # her own token (make_account's) is revoked with the reset: whoever held the password may have made it
    assert _events(db, "password_set") == [("representative", OWNER, "52012", {
        "account_id": user.id, "account_email": OWNER, "account_role": "representative", "how": "reset",
        "link_by": "referent@igretec.com", "tokens_revoked": 1})]
    journal = referent.client.get("/admin/journal?action=reset_link").get_data(as_text=True)
    assert "Lien de mot de passe donné" in journal
    assert ("Compte bourgmestre@chatelet.be (Représentant·e communal·e) · lien envoyé par e-mail à cette adresse"
            in journal.replace("&amp;", "&")), journal
    journal = referent.client.get("/admin/journal?action=password_set").get_data(as_text=True)
    assert ("Compte bourgmestre@chatelet.be (Représentant·e communal·e) · avec un lien donné par referent@igretec.com · "
            "1 jeton API révoqué") in journal


def test_when_the_mail_server_refuses_no_link_is_given(app, client, db) -> None:  # noqa: ANN001
    make_account(client, db, OWNER, "representative", "52012")
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    referent.login()
    user = db.scalar(select(User).where(User.email == OWNER))
    with configured(app, SMTP_HOST="127.0.0.1", SMTP_PORT=9):  # nothing listens there
        answer = _ask_link(referent, user.id)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert ("Le serveur d&#39;e-mail n&#39;a pas pris le message pour bourgmestre@chatelet.be (injoignable ou "
            "refus) : aucun lien n&#39;a été donné. Réessayez plus tard.") in html
    assert "reinitialisation?jeton=" not in html
    links = db.scalars(select(AccountToken).where(AccountToken.user_id == user.id, AccountToken.purpose == "reset")).all()
    assert len(links) == 1 and links[0].used_at is not None  # made, then ended unsent
    assert _events(db, "reset_link") == []


def test_an_api_token_asks_for_the_password_and_a_password_change_revokes_the_tokens(app, client, db) -> None:  # noqa: ANN001
    owner = make_account(client, db, OWNER, "representative", "52012")
    owner.login()
    page = client.get("/compte/jetons").get_data(as_text=True)
    assert 'name="current_password"' in page
    for given, said in (("", "Indiquez votre mot de passe actuel : il confirme que c&#39;est bien vous."),
                        ("not her password", "Le mot de passe actuel est incorrect : retapez-le.")):
        answer = client.post("/compte/jetons", data={"name": "volé", "days": "365", "current_password": given,
                                                     "csrf_token": csrf_token(page)})
        assert answer.status_code == 422 and said in answer.get_data(as_text=True)
    user = db.scalar(select(User).where(User.email == OWNER))
    assert db.scalar(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.name == "volé")) is None
    made = client.post("/compte/jetons", data={"name": "QGIS", "days": "30", "current_password": owner.password,
                                               "csrf_token": csrf_token(page)})
    assert made.status_code == 200
    token = re.search(r'value="([^"]+)" aria-label="Nouveau jeton" id="new-token"', made.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    created = _events(db, "token_create")
    assert created[-1][:3] == ("representative", OWNER, "52012")
    assert created[-1][3]["token_name"] == "QGIS" and created[-1][3]["days"] == 30
    # the password change offers to revoke both tokens (make_account's and this one), checked
    form = client.get("/compte/mot-de-passe").get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="revoke_tokens" value="1" checked>\s*Révoquer aussi mes jetons API '
                     r"\(en vigueur : 2 ; à recréer pour les logiciels qui s'en servent\)", unescape(form)), form
    changed = client.post("/compte/mot-de-passe", data={"current_password": owner.password, "password": STRONG,
                                                        "revoke_tokens": "1", "csrf_token": csrf_token(form)})
    assert changed.status_code == 302
    said = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert ("2 jetons API révoqués : créez-en un nouveau pour chaque logiciel qui doit encore accéder à l&#39;API."
            in said)
    assert client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _events(db, "password_set")[-1][3] == {"account_id": user.id, "account_email": OWNER,
                                                  "account_role": "representative", "how": "change",
                                                  "tokens_revoked": 2}


def test_invitations_deactivations_and_tokens_are_in_the_journal(app, client, db, smtp_server) -> None:  # noqa: ANN001
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    referent.login()
    page = referent.client.get("/utilisateurs").get_data(as_text=True)
    invited = referent.client.post("/utilisateurs/inviter", data={"email": "greffe@lobbes.be", "role": "representative",
                                                          "commune": "56044", "csrf_token": csrf_token(page)})
    assert invited.status_code == 302
    user = db.scalar(select(User).where(User.email == "greffe@lobbes.be"))
    assert _events(db, "invite", "greffe@lobbes.be") == [("referent", "referent@igretec.com", "56044", {
        "account_id": user.id, "account_email": "greffe@lobbes.be", "account_role": "representative"})]
    path = _link(smtp_server.wait_to("greffe@lobbes.be", 1)[0], "/compte/invitation")
    assert path.startswith("/compte/invitation?jeton=")
    page = referent.client.get("/utilisateurs").get_data(as_text=True)
    gone = referent.client.post(f"/utilisateurs/{user.id}/desactiver", data={"confirm": "1",
                                                                            "csrf_token": csrf_token(page)})
    assert gone.status_code == 302
    assert _events(db, "deactivate", "greffe@lobbes.be")[-1][:3] == ("referent", "referent@igretec.com", "56044")
    owner = make_account(client, db, OWNER, "representative", "52012")
    owner.login()
    token_id = db.scalar(select(ApiToken.id).join(User).where(User.email == OWNER))
    tokens = client.get("/compte/jetons").get_data(as_text=True)
    assert client.post(f"/compte/jetons/{token_id}/revoquer", data={"csrf_token": csrf_token(tokens)}).status_code == 302
    revoked = _events(db, "token_revoke")
    assert revoked[-1][:3] == ("representative", OWNER, "52012") and revoked[-1][3]["token_id"] == token_id
    journal = referent.client.get("/admin/journal").get_data(as_text=True)
    for label in ("Compte invité", "Compte désactivé", "Jeton API révoqué"):
        assert label in journal, label


def test_a_new_token_is_told_to_its_owner_by_e_mail(client, db, smtp_server) -> None:  # noqa: ANN001
    owner = make_account(client, db, OWNER, "representative", "52012")
    owner.login()
    page = client.get("/compte/jetons").get_data(as_text=True)
    made = client.post("/compte/jetons", data={"name": "QGIS", "days": "1", "current_password": owner.password,
                                               "csrf_token": csrf_token(page)})
    assert made.status_code == 200 and 'id="new-token"' in made.get_data(as_text=True)
    made.close()  # the e-mail leaves after the answer
    [message] = smtp_server.wait_to(OWNER, 1)
    assert message["Subject"] == "geosignal : un jeton API a été créé"
    body = message.get_body(("plain",)).get_content()
    assert ("Un jeton d'accès à l'API nommé « QGIS », valable 1 jour, vient d'être créé pour votre compte geosignal "
            "depuis la page Jetons API.") in " ".join(body.split())
    assert f"{MAILED_BASE}/compte/jetons" in body


@pytest.mark.parametrize("one_time", [False, True])
def test_a_password_change_keeps_the_tokens_when_unchecked(client, db, one_time: bool) -> None:  # noqa: ANN001
    """Unchecked, the box revokes nothing. It is offered checked, unless the password is a
    one-time one: that account's tokens were made at the terminal (its pages are closed to it
    until it chooses a password)."""
    owner = make_account(client, db, OWNER, "representative", "52012")
    if one_time:
        db.execute(text("UPDATE users SET must_change_password = true WHERE email = :e"), {"e": OWNER})
        db.commit()
    owner.login()
    form = client.get("/compte/mot-de-passe").get_data(as_text=True)
    box = '<input type="checkbox" name="revoke_tokens" value="1"' + ("" if one_time else " checked") + ">"
    assert box in form and "Révoquer aussi mes jetons API (en vigueur : 1 ; à recréer" in form
    changed = client.post("/compte/mot-de-passe", data={"current_password": owner.password, "password": STRONG,
                                                        "csrf_token": csrf_token(form)})
    assert changed.status_code == 302
    assert client.get("/api/v1/reports", headers=owner.headers).status_code == 200


@pytest.mark.parametrize("since", ["deactivated", "demoted"])
def test_a_link_shown_to_a_referent_stops_working_once_she_may_not_give_it(app, client, db, fresh_limits,  # noqa: ANN001
                                                                         since: str) -> None:
    """No mail server: the invitation and reset links a referent makes are shown to her, to hand
    over. Deactivated (she left, or was found out) or made a representative since, she still
    held them: she set the invitee's password and signed in as that representative. A link
    works only while its maker may still make it; another manager gives a new one."""
    assert not app.config.get("SMTP_HOST")
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    admin = make_account(app.test_client(), db, "admin@igretec.com", "admin")
    make_account(app.test_client(), db, OWNER, "representative", "52012")
    db.execute(text("UPDATE users SET must_change_password = true WHERE email = :e"), {"e": OWNER})
    db.commit()  # a one-time password: the referent gives her a link to choose one
    referent.login()
    page = referent.client.get("/utilisateurs").get_data(as_text=True)
    invited = referent.client.post("/utilisateurs/inviter", data={
        "email": "echevin@fleurus.be", "role": "representative", "commune": "52021", "csrf_token": csrf_token(page)})
    invitation = re.search(r'value="http://localhost(/compte/invitation\?jeton=([\w-]+))" id="shown-link"',
                           invited.get_data(as_text=True))
    owner = db.scalar(select(User).where(User.email == OWNER))
    reset = re.search(r'value="http://localhost(/compte/reinitialisation\?jeton=([\w-]+))" id="shown-link"',
                      _ask_link(referent, owner.id).get_data(as_text=True))
    assert invitation and reset
    them = db.scalar(select(User).where(User.email == referent.email))
    if since == "deactivated":
        admin.login()
        page = admin.client.get("/utilisateurs").get_data(as_text=True)
        assert admin.client.post(f"/utilisateurs/{them.id}/desactiver",
                                 data={"confirm": "1", "csrf_token": csrf_token(page)}).status_code == 302
    else:  # the operator makes her a commune's representative (there is no page for it)
        db.execute(text("UPDATE users SET role = 'representative', commune_nis = '52011' WHERE id = :i"),
                   {"i": them.id})
        db.commit()
    for url, endpoint in ((invitation, "/compte/invitation"), (reset, "/compte/reinitialisation")):
        thief = app.test_client()
        form = thief.get(url.group(1))
        assert form.status_code == 410 and 'data-code="invalid_link"' in form.get_data(as_text=True), endpoint
        taken = thief.post(endpoint, data={"jeton": url.group(2), "password": STRONG,
                                           "csrf_token": csrf_token(thief.get("/login").get_data(as_text=True))})
        assert taken.status_code == 410, endpoint
    if since == "deactivated":  # brought back, she does not get them back (she may have been found out)
        from geosignal.services.accounts import reactivate

        reactivate(db, None, db.get(User, them.id))
        db.commit()
        for url in (invitation, reset):
            assert app.test_client().get(url.group(1)).status_code == 410, url.group(1)
    db.expire_all()
    for email in ("echevin@fleurus.be", OWNER):
        assert not db.scalar(select(User).where(User.email == email)).check_password(STRONG), email
    # another manager gives the invitee a new link, which works
    admin.login()
    invitee = db.scalar(select(User).where(User.email == "echevin@fleurus.be"))
    asked = _ask_link(admin, invitee.id)
    fresh = re.search(r'value="http://localhost(/compte/reinitialisation\?jeton=([\w-]+))" id="shown-link"',
                      asked.get_data(as_text=True))
    assert fresh, (asked.status_code, asked.get_data(as_text=True)[-3000:])
    form = client.get(fresh.group(1))
    done = client.post("/compte/reinitialisation", data={"jeton": fresh.group(2), "password": STRONG,
                                                         "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert done.status_code == 302
