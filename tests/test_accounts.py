"""Account lifecycle: password policy, invitations and resets by e-mail (a real local SMTP
server), password change, deactivation, demo users' one-time passwords."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import select, text, update

from geosignal.errors import GeosignalError
from geosignal.models import AccountToken, User
from geosignal.services import accounts
from tests.conftest import Account, csrf_token, make_account

STRONG = "grenier mouette tricot ardoise"


@pytest.fixture(autouse=True)
def _fresh_limits(fresh_limits) -> None:  # noqa: ANN001
    """Every test of this module starts with empty rate-limit counters."""


@pytest.mark.parametrize(("password", "words"), [
    ("short pass", []), ("azertyuiop12", []), ("password1234", []), ("aaaaaaaaaaaaaaaa", []),
    ("charleroi2026", ["Charleroi"]),
])
def test_weak_passwords_are_refused(password: str, words: list[str]) -> None:
    with pytest.raises(GeosignalError) as refused:
        accounts.check_password_policy(password, words)
    assert refused.value.code == "weak_password" and refused.value.where == "password"


def test_a_long_unguessable_password_is_accepted() -> None:
    assert accounts.password_problem(STRONG) is None


GUESSABLE = "Mot de passe trop facile à deviner (mot courant, suite de clavier, nom de la commune ou de l'adresse) : " \
            "choisissez une phrase de plusieurs mots sans lien avec vous."


@pytest.mark.parametrize("password", [
    "sivryrance2024", "SIVRY_rance!!2024", "Sivry Rance 2024", "sivry-rance-2024",  # the clerk's commune
    "chatelet2024", "CHÂTELET 2024 !!",  # another commune (Châtelet), accents or not
    "greffe.sivry2024", "Geo-Signal 2024!", "igretec-2024-ok",  # the address's local part, the service
])
def test_commune_and_own_words_are_refused_however_written(db, password: str) -> None:
    """The clerk of Sivry-Rance (whose address does not name it): every commune's name, the
    address and the service's words are refused inside the password, whatever the case,
    accents, separators or digits around them."""
    clerk = User(email="greffe.sivry@example.org", role="representative", commune_nis="56088")
    words = accounts.guessable_words(db, clerk)
    assert "Sivry-Rance" in words and "Châtelet" in words
    with pytest.raises(GeosignalError) as refused:
        accounts.check_password_policy(password, words)
    assert (refused.value.code, refused.value.where, refused.value.extra) == (
        "weak_password", "password", {"kind": "guessable"})


def test_dutch_commune_names_are_refused(db) -> None:
    from geosignal.models import Commune

    db.execute(update(Commune).where(Commune.nis_code == "56088").values(name_nl="Zilverrijk-Rans"))
    words = accounts.guessable_words(db, email="greffe@example.org")
    with pytest.raises(GeosignalError) as refused:
        accounts.check_password_policy("zilverrijk rans 2024", words)
    assert (refused.value.code, refused.value.extra) == ("weak_password", {"kind": "guessable"})


def test_unrelated_passphrases_are_accepted_with_every_commune_name(db) -> None:
    """Names are looked for whole (normalised) and only from 4 letters: a word that merely
    contains a fragment of a name, or a 3-letter name, does not refuse a passphrase."""
    words = accounts.guessable_words(db, email="greffe.sivry@example.org")
    for password in (STRONG, "hamster bonsaï rançon lampion", "sivry vélo orage rance"):
        assert accounts.password_problem(password, words) is None, password
    assert accounts.contained_word("hamster spatule nuage violon", ["Ham", "Spa"]) is None
    assert accounts.normalised_letters("SIVRY_rance!!2024") == "sivryrance"
    assert accounts.normalised_letters("Fontaine-l'Evêque") == "fontaineleveque"


@pytest.mark.parametrize("password", ["purple-elephant-manage-tonight", "Lanterne-Manage-Quokka-violet",
                                      "quokka lanterne thuin violette", "geosignal quokka lantern violet",
                                      "IGRETEC-quokka-lantern-violet"])
def test_a_passphrase_holding_a_commune_name_among_its_words_is_accepted(db, password: str) -> None:
    """Every commune's name was refused anywhere inside a password: with the 581 Belgian
    communes loaded, « purple elephant manage tonight » (Manage) was refused to everybody, as
    « trop facile à deviner ». A password holding such a word must stand without it: what is
    left is judged."""
    words = [*accounts.guessable_words(db, email="greffe.sivry@example.org"), "Manage", "Silly", "Halle"]
    assert "Thuin" in words
    assert accounts.password_problem(password, words) is None


@pytest.mark.parametrize("password", ["manage-2024-charleroi!", "Charleroi Manage Châtelet", "Thuin-Thuin-2025!",
                                      "Geosignal-2026!", "igretec IGRETEC 2026", "greffe.sivry@example.org"])
def test_commune_names_with_little_else_are_still_refused(db, password: str) -> None:
    words = [*accounts.guessable_words(db, email="greffe.sivry@example.org"), "Manage"]
    with pytest.raises(GeosignalError) as refused:
        accounts.check_password_policy(password, words)
    assert refused.value.extra == {"kind": "guessable"}


def _post(client, path: str, data: dict, page: str):  # noqa: ANN001, ANN202
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


#: Where e-mailed links lead in the tests (no PUBLIC_BASE_URL: the address scripts/run serves).
MAILED_BASE = "http://127.0.0.1:5000"


def _link(message, path: str) -> str:  # noqa: ANN001
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    match = re.search(rf"{re.escape(MAILED_BASE)}{re.escape(path)}\?jeton=([\w-]+)", text)
    assert match, text
    assert match.group(0).replace("&", "&amp;") in html
    return match.group(0).removeprefix(MAILED_BASE)


def _user_row(client, email: str) -> list[str]:  # noqa: ANN001
    """The cells of ``email``'s row in the accounts table (/utilisateurs), as text."""
    html = client.get("/utilisateurs").get_data(as_text=True)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    (row,) = [r for r in rows if f">{email}</td>" in r]
    return [unescape(re.sub(r"<[^>]+>|\s+", lambda m: " " if m.group().isspace() else "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_a_representative_invited_without_a_commune_is_asked_for_it(client, db, smtp_server) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    referent.login()
    answer = _post(client, "/utilisateurs/inviter", {"email": "clerc@thuin.be", "role": "representative"},
                   "/utilisateurs")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Choisissez la commune de ce·tte représentant·e : un·e représentant·e a exactement une commune." in html
    assert re.search(r'<select name="commune" aria-invalid="true" aria-describedby="users-error">', html)
    assert db.scalar(select(User).where(User.email == "clerc@thuin.be")) is None and smtp_server.messages == []
    # the communes in reading order, accents aside: Châtelet before Chimay
    names = re.findall(r'<option value="\d{5}"[^>]*>([^<]+) \(\d{5}\)</option>', html)
    assert names.index("Châtelet") < names.index("Chimay") < names.index("Courcelles")


def test_invitation_by_email_single_use_then_sign_in(app, client, db, smtp_server) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    assert referent.login().status_code == 302
    answer = _post(client, "/utilisateurs/inviter", {"email": "Clerc@Fleurus.be", "role": "representative",
                                                      "commune": "52022"}, "/utilisateurs")
    assert answer.status_code == 302
    row = _user_row(client, "clerc@fleurus.be")  # the commune named; not yet signed up
    assert row[2] == "Fontaine-l'Evêque (52022)" and row[3].startswith("invitée, pas encore inscrite (lien valable jusqu'au ")
    [message] = smtp_server.to("clerc@fleurus.be")
    assert message["Subject"] == "geosignal : votre invitation"
    assert "referent@igretec.com vous invite" in message.get_body(("plain",)).get_content()
    assert ("Votre rôle : Représentant·e communal·e ; votre commune : Fontaine-l'Evêque (52022)."
            in message.get_body(("plain",)).get_content())
    link = _link(message, "/compte/invitation")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/carte").get_data(as_text=True))})
    invitee = app.test_client()
    assert invitee.post("/login", data={"email": "clerc@fleurus.be", "password": "x",
                                        "csrf_token": csrf_token(invitee.get("/login").get_data(as_text=True))}
                        ).status_code == 401
    form = invitee.get(link)
    assert form.status_code == 200 and "clerc@fleurus.be" in form.get_data(as_text=True)
    secret = link.split("jeton=")[1]
    weak = invitee.post("/compte/invitation", data={"jeton": secret, "password": "fleurus2026",
                                                    "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert weak.status_code == 422 and "trop" in weak.get_data(as_text=True)
    done = invitee.post("/compte/invitation", data={"jeton": secret, "password": STRONG,
                                                    "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert done.status_code == 302
    filled = invitee.get("/login").get_data(as_text=True)  # the sign-in form filled in, once
    assert 'value="clerc@fleurus.be" required autocomplete="username"' in filled
    assert re.search(r'name="password" required autofocus', filled)
    assert 'value="clerc@fleurus.be"' not in invitee.get("/login").get_data(as_text=True)
    again = invitee.get(link)
    assert again.status_code == 410 and "invalid_link" in again.get_data(as_text=True)
    signed_in = invitee.post("/login", data={"email": "clerc@fleurus.be", "password": STRONG,
                                             "csrf_token": csrf_token(invitee.get("/login").get_data(as_text=True))})
    assert signed_in.status_code == 302
    referent.login()
    assert _user_row(client, "clerc@fleurus.be")[3] == "actif"
    user = db.scalar(select(User).where(User.email == "clerc@fleurus.be"))
    assert user.role == "representative" and user.commune_nis == "52022"


def test_invitation_rights_and_expiry(app, client, db, smtp_server) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    referent.login()
    refused = _post(client, "/utilisateurs/inviter", {"email": "boss@igretec.com", "role": "admin"}, "/utilisateurs")
    assert refused.status_code == 403 and smtp_server.messages == []
    assert db.scalar(select(User).where(User.email == "boss@igretec.com")) is None
    _post(client, "/utilisateurs/inviter", {"email": "clerc@fleurus.be", "role": "representative",
                                             "commune": "52022"}, "/utilisateurs")
    link = _link(smtp_server.to("clerc@fleurus.be")[0], "/compte/invitation")
    db.execute(update(AccountToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()
    assert _user_row(client, "clerc@fleurus.be")[3] == (
        "invitation expirée sans réponse : la personne peut utiliser « Mot de passe oublié ? »")
    assert client.get(link).status_code == 410
    representative = make_account(app.test_client(), db, "echevin@charleroi.be", "representative", "52011")
    representative.login()
    assert representative.client.get("/utilisateurs").status_code == 403


def test_reset_by_email_is_single_use_and_answers_the_same_for_unknown_addresses(app, client, db, smtp_server) -> None:  # noqa: ANN001
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    old_cookie_client = app.test_client()
    old_cookie_client.post("/login", data={"email": account.email, "password": account.password,
                                           "csrf_token": csrf_token(old_cookie_client.get("/login").get_data(as_text=True))})
    assert old_cookie_client.get("/api/v1/reports").status_code == 200
    known = _post(client, "/compte/mot-de-passe-oublie", {"email": account.email}, "/compte/mot-de-passe-oublie")
    unknown = _post(client, "/compte/mot-de-passe-oublie", {"email": "nobody@x.be"}, "/compte/mot-de-passe-oublie")
    known.close()  # the e-mail leaves once the answer has gone
    assert known.status_code == unknown.status_code == 302
    assert [m["To"] for m in smtp_server.messages] == [account.email]
    link = _link(smtp_server.messages[0], "/compte/reinitialisation")
    token = db.scalar(select(AccountToken).where(AccountToken.purpose == "reset"))
    assert timedelta(minutes=59) < token.expires_at - token.created_at <= timedelta(hours=1)
    form = client.get(link)
    done = client.post("/compte/reinitialisation", data={"jeton": link.split("jeton=")[1], "password": STRONG,
                                                         "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert done.status_code == 302
    assert client.get(link).status_code == 410
    assert old_cookie_client.get("/api/v1/reports").status_code == 401  # sessions ended
    user = db.scalar(select(User).where(User.email == account.email))
    assert user.check_password(STRONG) and not user.check_password(account.password)


def test_password_change_page(app, client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    other = app.test_client()
    other.post("/login", data={"email": account.email, "password": account.password,
                               "csrf_token": csrf_token(other.get("/login").get_data(as_text=True))})
    account.login()
    wrong = _post(client, "/compte/mot-de-passe", {"current_password": "nope", "password": STRONG},
                  "/compte/mot-de-passe")
    assert wrong.status_code == 422 and "Le mot de passe actuel est incorrect : retapez-le." in wrong.get_data(as_text=True)
    done = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": STRONG},
                 "/compte/mot-de-passe")
    assert done.status_code == 302
    assert client.get("/api/v1/reports").status_code == 200  # this browser stays signed in
    assert other.get("/api/v1/reports").status_code == 401   # the other one does not


def test_password_page_refuses_a_commune_name_written_otherwise(client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "greffe@example.org", "representative", "56088")  # Sivry-Rance
    account.login()
    for password in ("sivryrance2024", "SIVRY_rance!!2024", "Sivry Rance 2024", "chatelet2024"):
        refused = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": password},
                        "/compte/mot-de-passe")
        html = refused.get_data(as_text=True)
        assert refused.status_code == 422, password
        assert re.search(r'<p class="flash error" role="alert" id="password-error" data-code="weak_password" '
                         r'data-kind="guessable">'
                         r"([^<]*)</p>", html).group(1) == GUESSABLE.replace("'", "&#39;")
        assert 'aria-describedby="password-help password-error" aria-invalid="true"' in html
    done = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": STRONG},
                 "/compte/mot-de-passe")
    assert done.status_code == 302


def test_cli_create_user_refuses_a_commune_name(app, db) -> None:  # noqa: ANN001
    result = app.test_cli_runner().invoke(
        args=["create-user", "greffe@example.org", "--role", "representative", "--commune", "56088",
              "--password-stdin"], input="Sivry Rance 2024\n")
    assert result.exit_code == 1 and "weak_password" in result.output
    assert db.scalar(select(User).where(User.email == "greffe@example.org")) is None


def test_deactivation_revokes_sessions_and_tokens(app, client, db) -> None:  # noqa: ANN001
    admin = make_account(client, db, "admin@igretec.com", "admin")
    rep = make_account(app.test_client(), db, "echevin@charleroi.be", "representative", "52011")
    rep.login()
    assert rep.get("/api/v1/reports").status_code == 200
    admin.login()
    user = db.scalar(select(User).where(User.email == rep.email))
    assert _post(client, f"/utilisateurs/{user.id}/desactiver", {"confirm": "1"}, "/utilisateurs").status_code == 302
    assert rep.get("/api/v1/reports").status_code == 401  # bearer token revoked
    assert rep.client.get("/api/v1/reports").status_code == 401  # cookie ended
    assert rep.login().status_code == 401
    db.refresh(user)
    assert not user.active and user.deactivated_at is not None  # kept, not deleted
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    referent.login()
    admin_user = db.scalar(select(User).where(User.email == admin.email))
    page = referent.client.get("/utilisateurs")
    refused = referent.client.post(f"/utilisateurs/{admin_user.id}/desactiver",
                                   data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert refused.status_code == 404  # an account it does not manage is answered as no account


def test_deactivation_asks_for_confirmation_first(app, client, db) -> None:  # noqa: ANN001
    """« Désactiver » beside « Lien de nouveau mot de passe » acted at the first click (a
    withdrawal or a rejection is confirmed first). It leads to a page saying what it does and
    how it is undone, without JavaScript; its button deactivates, « Annuler » changes nothing."""
    make_account(app.test_client(), db, "echevin@fleurus.be", "representative", "52021")
    referent = make_account(client, db, "referent@igretec.com", "referent")
    referent.login()
    uid = db.scalar(select(User.id).where(User.email == "echevin@fleurus.be"))
    asked = _post(client, f"/utilisateurs/{uid}/desactiver", {}, "/utilisateurs")
    html = unescape(asked.get_data(as_text=True))
    assert asked.status_code == 200 and 'id="confirm"' in html
    assert "Confirmer : désactiver le compte echevin@fleurus.be" in html
    assert "Rôle : Représentant·e communal·e ; commune : Fleurus (52021)." in html
    assert ("Ce compte ne pourra plus se connecter : ses sessions se ferment, ses jetons API sont révoqués et ses "
            "imports en attente échouent.") in html
    assert "Les liens d'invitation" not in html  # a representative gives none
    assert "Un administrateur peut le réactiver ensuite (« Réactiver » sur la page Comptes)" in html
    form = re.search(r'<form method="post" action="/utilisateurs/(\d+)/desactiver">(.*?)</form>', html, re.S)
    assert form and form.group(1) == str(uid) and '<input type="hidden" name="confirm" value="1">' in form.group(2)
    assert 'href="/utilisateurs"' in form.group(2) and "Oui, désactiver" in form.group(2)
    db.expire_all()
    assert db.get(User, uid).in_force  # nothing done yet
    done = _post(client, f"/utilisateurs/{uid}/desactiver", {"confirm": "1"}, "/utilisateurs")
    assert done.status_code == 302
    db.expire_all()
    assert not db.get(User, uid).in_force
    assert _user_row(client, "echevin@fleurus.be")[3:] == ["désactivé", ""]  # the referent does not reactivate
    admin = make_account(app.test_client(), db, "admin@igretec.com", "admin")
    admin.login()
    page = admin.client.get("/utilisateurs").get_data(as_text=True)
    them = db.scalar(select(User.id).where(User.email == referent.email))
    asked = admin.client.post(f"/utilisateurs/{them}/desactiver", headers={"Accept-Language": "nl"},
                              data={"csrf_token": csrf_token(page)})  # (a referent gives links: said so)
    html = unescape(asked.get_data(as_text=True))
    assert asked.status_code == 200 and "Bevestigen: account referent@igretec.com deactiveren" in html
    assert ("De uitnodigingslinks en links voor een nieuw wachtwoord die het gaf en die nog niet gebruikt zijn, werken "
            "niet meer.") in html and "Ja, deactiveren" in html


def test_inviting_a_deactivated_address_says_how_to_bring_it_back(client, db) -> None:  # noqa: ANN001
    """The page said « Un compte existe déjà… elle utilise « Mot de passe oublié ? » », which
    sends a deactivated account nothing."""
    make_account(client, db, "echevin@fleurus.be", "representative", "52021")
    referent = make_account(client, db, "referent@igretec.com", "referent")
    referent.login()
    uid = db.scalar(select(User.id).where(User.email == "echevin@fleurus.be"))
    assert _post(client, f"/utilisateurs/{uid}/desactiver", {"confirm": "1"}, "/utilisateurs").status_code == 302
    again = _post(client, "/utilisateurs/inviter", {"email": "Echevin@Fleurus.be", "role": "representative",
                                                     "commune": "52021"}, "/utilisateurs")
    html = unescape(again.get_data(as_text=True))
    assert again.status_code == 409 and 'data-code="invalid_request"' in html
    assert ("Un compte désactivé existe pour cette adresse : elle ne peut pas être invitée à nouveau, et « Mot de "
            "passe oublié ? » ne lui envoie rien. Un administrateur le réactive (« Réactiver » sur cette page, ou "
            "geosignal reactivate-user au terminal) : la personne reçoit un nouveau lien pour choisir son mot de "
            "passe.") in html
    assert "elle utilise « Mot de passe oublié ? »" not in html
    with pytest.raises(GeosignalError) as caught:
        from geosignal.services.users import create_user

        create_user(db, "echevin@fleurus.be", "representative", "52021", STRONG)
    assert (caught.value.status, caught.value.where, caught.value.extra["kind"]) == (409, "email", "email_deactivated")
    with pytest.raises(GeosignalError) as active:
        create_user(db, "referent@igretec.com", "referent", None, STRONG)
    assert active.value.extra["kind"] == "email_taken"  # an account in force: as before


def test_an_admin_reactivates_a_deactivated_account_with_a_new_invitation_link(app, client, db) -> None:  # noqa: ANN001
    """The way back: « Réactiver » (admins) brings the account back with its role and commune;
    its owner chooses a new password through a new invitation link (shown without a mail
    server, as an invitation is); its old password and API tokens stay dead. Journalled."""
    assert not app.config.get("SMTP_HOST")
    rep = make_account(app.test_client(), db, "echevin@fleurus.be", "representative", "52021")
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    admin = make_account(client, db, "admin@igretec.com", "admin")
    uid = db.scalar(select(User.id).where(User.email == rep.email))
    referent.login()
    page = referent.client.get("/utilisateurs").get_data(as_text=True)
    assert referent.client.post(f"/utilisateurs/{uid}/desactiver",
                                data={"confirm": "1", "csrf_token": csrf_token(page)}).status_code == 302
    page = referent.client.get("/utilisateurs").get_data(as_text=True)
    assert f"/utilisateurs/{uid}/reactiver" not in page  # the referent asks an admin
    assert referent.client.post(f"/utilisateurs/{uid}/reactiver",
                                data={"csrf_token": csrf_token(page)}).status_code == 404
    admin.login()
    assert _user_row(client, rep.email)[3:] == ["désactivé", "Réactiver"]
    back = _post(client, f"/utilisateurs/{uid}/reactiver", {}, "/utilisateurs")
    html = unescape(back.get_data(as_text=True))
    assert back.status_code == 200
    assert ("Compte echevin@fleurus.be réactivé. Aucun serveur d'e-mail n'est configuré : transmettez vous-même ce "
            "lien à echevin@fleurus.be.") in html
    url = re.search(r'value="http://localhost(/compte/invitation\?jeton=([\w-]+))" id="shown-link"', html)
    assert url, html
    assert _user_row(client, rep.email)[3].startswith("invitée, pas encore inscrite")
    assert rep.login().status_code == 401  # its old password is gone
    assert rep.get("/api/v1/reports").status_code == 401  # and its tokens
    invitee = app.test_client()
    form = invitee.get(url.group(1))
    assert form.status_code == 200 and "Fleurus (52021)" in unescape(form.get_data(as_text=True))
    done = invitee.post("/compte/invitation", data={"jeton": url.group(2), "password": STRONG,
                                                    "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert done.status_code == 302
    signed = invitee.post("/login", data={"email": rep.email, "password": STRONG,
                                          "csrf_token": csrf_token(invitee.get("/login").get_data(as_text=True))})
    assert signed.status_code == 302
    db.expire_all()
    user = db.get(User, uid)
    assert user.in_force and (user.role, user.commune_nis) == ("representative", "52021")
    events = db.execute(text("SELECT e.action, e.actor_role FROM audit_events e WHERE e.action IN "
                             "('deactivate', 'reactivate') AND e.details->>'account_email' = :e ORDER BY e.id"),
                        {"e": rep.email}).all()
    assert events == [("deactivate", "referent"), ("reactivate", "admin")]
    again = _post(client, f"/utilisateurs/{uid}/reactiver", {}, "/utilisateurs")
    assert again.status_code == 409 and "Ce compte est actif : il n&#39;y a rien à réactiver." in again.get_data(
        as_text=True)


def test_a_reactivation_mails_the_link_in_the_account_s_language(app, client, db, smtp_server) -> None:  # noqa: ANN001
    make_account(app.test_client(), db, "echevin@fleurus.be", "representative", "52021")
    db.execute(update(User).where(User.email == "echevin@fleurus.be").values(locale="nl"))
    db.commit()
    uid = db.scalar(select(User.id).where(User.email == "echevin@fleurus.be"))
    make_account(client, db, "admin@igretec.com", "admin").login()
    assert _post(client, f"/utilisateurs/{uid}/desactiver", {"confirm": "1"}, "/utilisateurs").status_code == 302
    back = _post(client, f"/utilisateurs/{uid}/reactiver", {}, "/utilisateurs")
    assert back.status_code == 302
    [message] = smtp_server.wait_for("echevin@fleurus.be", "geosignal")
    assert message["Subject"] == "geosignal: uw account is opnieuw geactiveerd"
    body = " ".join(message.get_body(("plain",)).get_content().split())
    assert "admin@igretec.com heeft uw geosignal-account opnieuw geactiveerd." in body
    assert "/compte/invitation?jeton=" in _link(message, "/compte/invitation")


def test_the_cli_reactivates_an_account_and_prints_its_invitation_link(app, client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@fleurus.be", "representative", "52021")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["reactivate-user", rep.email]).output == (
        "Error: invalid_request: echevin@fleurus.be is not deactivated: nothing changed\n")
    assert runner.invoke(args=["deactivate-user", rep.email]).exit_code == 0
    done = runner.invoke(args=["reactivate-user", "Echevin@Fleurus.be"])
    assert done.exit_code == 0, done.output
    said, link = done.output.splitlines()
    assert said == ("echevin@fleurus.be reactivated; sign-in works once its owner chooses a password through this "
                    "invitation link (valid 72 hours, once: hand it over):")
    assert link.startswith(MAILED_BASE + "/compte/invitation?jeton=")
    form = client.get(link.removeprefix(MAILED_BASE))
    assert client.post("/compte/invitation", data={"jeton": link.split("jeton=")[1], "password": STRONG,
                                                   "csrf_token": csrf_token(form.get_data(as_text=True))}
                       ).status_code == 302
    assert runner.invoke(args=["reactivate-user", "nobody@fleurus.be"]).exit_code == 1
    # (this account's: a browser test of the same session commits its own reactivation)
    assert db.execute(text("SELECT actor_id FROM audit_events WHERE action = 'reactivate' "
                           "AND details ->> 'account_email' = 'echevin@fleurus.be'")).all() == [(None,)]


def test_demo_passwords_never_reach_a_log_and_must_be_changed(app, client, db, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    assert db.scalar(select(User)) is None
    result = app.test_cli_runner().invoke(args=["create-demo-users"])
    assert result.exit_code == 0, result.output
    stored = tmp_path / "demo-passwords.txt"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    line = next(x for x in stored.read_text().splitlines() if x.startswith("demo representative"))
    password = line.rsplit(" ", 1)[1]
    assert str(stored) in result.output and password not in result.output
    answer = client.post("/login", data={"email": "charleroi@geosignal.local", "password": password,
                                         "csrf_token": csrf_token(client.get("/login").get_data(as_text=True))})
    assert answer.status_code == 302
    assert client.get("/carte").headers["Location"] == "/compte/mot-de-passe"
    assert client.get("/api/v1/reports").status_code == 403
    page = client.get("/compte/mot-de-passe")
    assert "Votre mot de passe actuel est provisoire" in page.get_data(as_text=True)
    client.post("/compte/mot-de-passe", data={"current_password": password, "password": STRONG,
                                              "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert client.get("/carte").status_code == 200


def test_without_a_mail_server_a_locked_out_person_gets_a_link_from_the_referent(app, client, db) -> None:  # noqa: ANN001
    """No SMTP server: "forgot password" says so (the same for every address) and who can help;
    the referent makes a reset link for a representative who has not chosen a password yet (a
    one-time password) on the Accounts page and hands it over; it sets the password once.
    Not for accounts the referent does not manage; for a password its owner chose, no link is
    made at all (test_account_links.py)."""
    assert not app.config.get("SMTP_HOST")
    account = make_account(client, db, "echevin@fleurus.be", "representative", "52021")
    asked = _post(client, "/compte/mot-de-passe-oublie", {"email": account.email}, "/compte/mot-de-passe-oublie")
    assert asked.status_code == 302
    said = client.get("/login").get_data(as_text=True)
    assert ("Ce service n&#39;envoie pas d&#39;e-mails : demandez à la personne qui l&#39;exploite (le service "
            "informatique) de vous fixer un mot de passe provisoire") in said
    assert db.scalar(select(AccountToken).where(AccountToken.purpose == "reset")) is None
    db.execute(text("UPDATE users SET must_change_password = true WHERE email = :e"), {"e": account.email})
    db.commit()  # a one-time password, given at the terminal: its owner has chosen none yet
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    admin = make_account(app.test_client(), db, "admin@igretec.com", "admin")
    referent.login()
    user = db.scalar(select(User).where(User.email == account.email))
    page = referent.client.get("/utilisateurs").get_data(as_text=True)
    answer = referent.client.post(f"/utilisateurs/{user.id}/lien", data={"csrf_token": csrf_token(page)})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Aucun serveur d&#39;e-mail n&#39;est configuré : transmettez vous-même ce lien à echevin@fleurus.be" in html
    url = re.search(r'value="http://localhost(/compte/reinitialisation\?jeton=([\w-]+))" id="shown-link"', html)
    assert url, html
    form = client.get(url.group(1))
    done = client.post("/compte/reinitialisation", data={"jeton": url.group(2), "password": STRONG,
                                                         "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert done.status_code == 302 and client.get(url.group(1)).status_code == 410
    db.expire_all()
    assert db.scalar(select(User).where(User.email == account.email)).check_password(STRONG)
    other = db.scalar(select(User).where(User.email == admin.email))
    refused = referent.client.post(f"/utilisateurs/{other.id}/lien", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 404  # an account it does not manage is answered as no account
    assert f'action="/utilisateurs/{other.id}/lien"' not in page and f'action="/utilisateurs/{user.id}/lien"' in page


def test_signing_out_says_so_in_the_users_language(client, db) -> None:  # noqa: ANN001
    """The sign-in page came back without a word: she could not tell whether it had worked."""
    dutch = make_account(client, db, "schepen@thuin.be", "representative", "56078")
    db.execute(text("UPDATE users SET locale = 'nl' WHERE email = 'schepen@thuin.be'"))
    db.commit()
    assert dutch.login().status_code == 302
    token = csrf_token(client.get("/carte").get_data(as_text=True))
    answer = client.post("/logout", data={"csrf_token": token}, follow_redirects=True)
    assert answer.status_code == 200 and "U bent afgemeld." in answer.get_data(as_text=True)
    assert client.get("/carte").status_code == 302  # signed out indeed
    again = client.post("/logout", data={"csrf_token": csrf_token(client.get("/login").get_data(as_text=True))},
                        follow_redirects=True)
    assert "afgemeld" not in again.get_data(as_text=True) and "déconnecté" not in again.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["fr", "nl", "en"])
def test_the_example_the_password_help_shows_is_refused(client, db, lang: str) -> None:  # noqa: ANN001
    """The help under every password field gives an example passphrase, in the page's language:
    everybody reads it, so nobody may choose it (written however)."""
    account = make_account(client, db, f"example-{lang}@example.be", "representative", "52011")
    client.set_cookie("geosignal_lang", lang)
    account.login()
    page = client.get("/compte/mot-de-passe").get_data(as_text=True)
    help_text = unescape(re.search(r'id="password-help">([^<]*)<', page).group(1))
    example = re.search(r"[«‘“]\s*([^»’”]+?)\s*[»’”]", help_text).group(1)
    assert example in accounts.SHOWN_EXAMPLES
    for written in (example, example.upper(), example.replace(" ", "-") + " 2026"):
        assert accounts.password_problem(written) is not None, written


def test_a_reset_e_mail_speaks_the_page_s_language_and_carries_date_and_message_id(client, db, smtp_server) -> None:  # noqa: ANN001
    """A Dutch reset e-mail ended in French (its signature, ``lang="fr"``, « : »), and account
    e-mails had no ``Date`` nor ``Message-ID`` (RFC 5322; some mail systems refuse them)."""
    account = make_account(client, db, "schepen@lesbonsvillers.be", "representative", "52075")
    client.set_cookie("geosignal_lang", "nl")
    _post(client, "/compte/mot-de-passe-oublie", {"email": account.email}, "/compte/mot-de-passe-oublie").close()
    [message] = smtp_server.messages
    assert message["Date"] and re.fullmatch(r"<[^@\s]+@geosignal\.local>", message["Message-ID"])
    text_part = message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",)).get_content()
    assert "zones blanches" not in text_part and " : http" not in text_part
    assert text_part.rstrip().endswith("— geosignal, witte zones van Charleroi Métropole")
    assert '<html lang="nl">' in html_part


def test_the_language_of_the_pages_at_sign_in_is_kept_for_e_mails(client, db) -> None:  # noqa: ANN001
    """Her notifications went out in French while every page she used was Dutch: only a
    language chosen with the switcher was kept. The language of the pages at her latest
    sign-in is kept too (``page_locale``), without becoming a choice (``locale``)."""
    account = make_account(client, db, "burgemeester@lesbonsvillers.be", "representative", "52075")
    user = db.scalar(select(User).where(User.email == account.email))
    for lang in ("nl", "en"):
        client.set_cookie("geosignal_lang", lang)
        assert account.login().status_code == 302
        db.refresh(user)
        assert (user.locale, user.page_locale) == (None, lang)
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/compte").get_data(as_text=True))})


def test_a_reset_revokes_the_account_s_tokens_and_a_change_does_not(app, client, db, smtp_server) -> None:  # noqa: ANN001
    """Tokens survived a reset: whoever had taken the password kept the API after the owner
    recovered the account. A reset revokes them; a change made knowing the password keeps them."""
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    assert client.get("/api/v1/reports", headers=account.headers).status_code == 200
    account.login()
    changed = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": STRONG},
                    "/compte/mot-de-passe")
    assert changed.status_code == 302
    user = db.scalar(select(User).where(User.email == account.email))
    db.refresh(user)
    assert user.check_password(STRONG)
    assert app.test_client().get("/api/v1/reports", headers=account.headers).status_code == 200
    reset = _post(app.test_client(), "/compte/mot-de-passe-oublie", {"email": account.email},
                  "/compte/mot-de-passe-oublie")
    reset.close()
    link = _link(smtp_server.messages[-1], "/compte/reinitialisation")
    other = app.test_client()
    form = other.get(link)
    done = other.post("/compte/reinitialisation", data={"jeton": link.split("jeton=")[1],
                                                        "password": "ardoise grenier tricot mouette",
                                                        "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert done.status_code == 302
    assert app.test_client().get("/api/v1/reports", headers=account.headers).status_code == 401


def test_an_invitation_speaks_the_invited_persons_language(app, client, db, smtp_server) -> None:  # noqa: ANN001
    """Trial (scale 8): a French-speaking referent invites a Dutch-speaking clerk: the e-mail,
    the page accepting it and the sign-in page after it speak Dutch, and so do their pages
    and e-mails until they choose another language; a reset link a referent sends is in the
    recipient's language too. The inviter's page stays French."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    assert referent.login().status_code == 302
    page = client.get("/utilisateurs").get_data(as_text=True)
    assert '<option value="fr" lang="fr" selected>Français</option>' in page  # the inviter's language first
    refused = _post(client, "/utilisateurs/inviter", {"email": "x@thuin.be", "role": "representative",
                                                      "commune": "56078", "locale": "de"}, "/utilisateurs")
    assert refused.status_code == 400 and 'aria-invalid="true"' in refused.get_data(as_text=True)
    assert db.scalar(select(User).where(User.email == "x@thuin.be")) is None
    answer = _post(client, "/utilisateurs/inviter", {"email": "griffier@thuin.be", "role": "representative",
                                                      "commune": "56078", "locale": "nl"}, "/utilisateurs")
    assert answer.status_code == 302
    follow = client.get("/utilisateurs").get_data(as_text=True)
    assert "Invitation envoyée à griffier@thuin.be" in follow  # said to the inviter in French
    [message] = smtp_server.to("griffier@thuin.be")
    assert message["Subject"] == "geosignal: uw uitnodiging"
    body = message.get_body(("plain",)).get_content()
    assert "referent@igretec.com nodigt u uit" in body and "vous invite" not in body
    # what the account is for, before anything is chosen (trial: life 10)
    assert "Uw rol: Gemeentelijke vertegenwoordiger; uw gemeente: Thuin (56078)." in body
    assert db.scalar(select(User.locale).where(User.email == "griffier@thuin.be")) == "nl"
    link = _link(message, "/compte/invitation")
    invitee = app.test_client()
    form = invitee.get(link, headers={"Accept-Language": "fr-BE"}).get_data(as_text=True)
    assert '<html lang="nl"' in form
    assert "Uw rol: Gemeentelijke vertegenwoordiger; uw gemeente: Thuin (56078)." in form
    done = invitee.post("/compte/invitation", data={"jeton": link.split("jeton=")[1], "password": STRONG,
                                                    "csrf_token": csrf_token(form)})
    assert done.status_code == 302 and "geosignal_lang=nl" in done.headers["Set-Cookie"]
    assert '<html lang="nl"' in invitee.get("/login").get_data(as_text=True)
    # a browser that chose French keeps it on the invitation's page
    user = db.scalar(select(User).where(User.email == "griffier@thuin.be"))
    secret = accounts.issue_reset_link(db, None, user)
    db.commit()
    chosen = app.test_client()
    chosen.set_cookie("geosignal_lang", "fr")
    assert '<html lang="fr"' in chosen.get(f"/compte/reinitialisation?jeton={secret}").get_data(as_text=True)
    # a reset link the referent sends: in the recipient's language
    sent = _post(client, f"/utilisateurs/{user.id}/lien", {}, "/utilisateurs")
    assert sent.status_code == 302
    reset = smtp_server.to("griffier@thuin.be")[-1]
    assert reset["Subject"] == "geosignal: uw wachtwoord opnieuw instellen", reset["Subject"]


def test_accounts_created_at_the_terminal_are_in_the_journal(app, client, db, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """An account made with ``geosignal create-user`` or ``create-demo-users`` left no trace in
    the journal, where an invitation from the pages does (an admin added from a shell unseen)."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-demo-users"]).exit_code == 0
    made = runner.invoke(args=["create-user", "chef@igretec.com", "--role", "admin", "--password-stdin"],
                         input="un long mot de passe bien à moi\n")
    assert made.exit_code == 0, made.output
    rows = db.execute(text("SELECT actor_id, commune_nis, details FROM audit_events WHERE action = 'account_create' "
                           "ORDER BY id")).all()
    assert [(r.actor_id, r.commune_nis, r.details["account_email"], r.details["account_role"], r.details["how"],
             r.details["password"]) for r in rows] == [
        (None, None, "referent@geosignal.local", "referent", "create-demo-users", "one-time"),
        (None, "52011", "charleroi@geosignal.local", "representative", "create-demo-users", "one-time"),
        (None, None, "chef@igretec.com", "admin", "create-user", "chosen")]
    admin = Account(client, "chef@igretec.com", "un long mot de passe bien à moi", "")
    assert admin.login().status_code == 302
    journal = " ".join(client.get("/admin/journal?action=account_create").get_data(as_text=True).split())
    assert journal.count("Compte créé au terminal") == 1 + 3  # the filter's choice, and a line each
    assert "Compte chef@igretec.com (Administrateur·rice) · mot de passe donné au terminal" in journal
    assert ("Compte charleroi@geosignal.local (Représentant·e communal·e) · mot de passe à usage unique, à changer à la "
            "première connexion") in journal
