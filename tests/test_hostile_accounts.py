"""Hostile round on accounts, sessions and authorisation: what an attacker tries against a
running service, each fault checked by the kind it belongs to (e-mailed links, single-use
links, tokens, cache, text shown back)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select, text

from geosignal.models import AccountToken, User
from tests.conftest import configured, csrf_token, make_account, owner_session

STRONG = "grenier mouette tricot ardoise"


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


# ---- a mail server down or refusing: never a 500, never a different answer -----------------------

def test_forgot_password_answers_the_same_when_the_mail_server_is_down(app, client, db) -> None:  # noqa: ANN001
    """With the SMTP server unreachable, a known address got 500 ``internal_error`` and an
    unknown one 302: the answer told which addresses have an account."""
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    with configured(app, SMTP_HOST="127.0.0.1", SMTP_PORT=1):  # nothing listens on port 1
        answers = []
        for email in (account.email, "nobody@charleroi.be"):
            answer = _post(client, "/compte/mot-de-passe-oublie", {"email": email}, "/compte/mot-de-passe-oublie")
            answer.close()  # the e-mail is tried, and fails, here
            answers.append((answer.status_code, answer.headers["Location"], answer.get_data()))
        said = client.get("/login").get_data(as_text=True)
    assert answers[0] == answers[1] and answers[0][:2] == (302, "/login")
    assert said.count("Si un compte existe pour cette adresse, un e-mail vient de lui être envoyé "
                      "(le lien expire dans une heure).") == 1


def test_forgot_password_sends_the_mail_after_the_answer(app, client, db, smtp_server) -> None:  # noqa: ANN001
    """The SMTP conversation took place before the answer: its duration told a known address
    from an unknown one."""
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    answer = _post(client, "/compte/mot-de-passe-oublie", {"email": account.email}, "/compte/mot-de-passe-oublie")
    assert answer.status_code == 302 and smtp_server.messages == []  # answered, nothing sent yet
    answer.close()
    assert [m["To"] for m in smtp_server.messages] == [account.email]


def test_forgot_password_does_nothing_for_a_known_address_before_the_answer(app, client, db, smtp_server) -> None:  # noqa: ANN001
    """The reset link was issued (older links ended, a new one inserted) and committed before
    the answer for a known address, one SELECT for an unknown one: the answer took 1.5 × as
    long (35 ms against 23 ms, medians of 15), telling which addresses have an account. The
    answer is now made before anything is looked up; the link is issued after it."""
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    user_id = db.scalar(select(User.id).where(User.email == account.email))
    statements: list[str] = []
    engine = app.extensions["geosignal.db"].engine

    def seen(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ANN002
        statements.append(statement)

    token = csrf_token(client.get("/compte/mot-de-passe-oublie").get_data(as_text=True))
    answers = {}
    for email in (account.email, "nobody@charleroi.be"):
        event.listen(engine, "before_cursor_execute", seen)
        try:
            answers[email] = client.post("/compte/mot-de-passe-oublie", data={"email": email, "csrf_token": token})
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert not [s for s in statements if "account_tokens" in s or "FROM users" in s], statements
    assert db.scalar(select(AccountToken).where(AccountToken.user_id == user_id)) is None
    assert smtp_server.messages == []
    for answer in answers.values():
        assert (answer.status_code, answer.headers["Location"]) == (302, "/login")
        answer.close()  # the link is issued, and mailed, here
    assert db.scalar(select(AccountToken.purpose).where(AccountToken.user_id == user_id)) == "reset"
    assert [m["To"] for m in smtp_server.messages] == [account.email]


@pytest.mark.parametrize("what", ["invite", "reset"])
def test_a_mail_server_down_shows_the_link_to_hand_over_instead_of_a_500(app, client, db, what: str) -> None:  # noqa: ANN001
    """An invitation or a reset link made on the accounts page while the SMTP server was down
    answered 500 after the account and link were stored: the link was lost."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    referent.login()
    clerk = make_account(app.test_client(), db, "clerc@fleurus.be", "representative", "52021")
    with configured(app, SMTP_HOST="127.0.0.1", SMTP_PORT=1):
        if what == "invite":
            email = "greffe@fleurus.be"
            answer = _post(client, "/utilisateurs/inviter", {"email": email, "role": "representative",
                                                             "commune": "52021"}, "/utilisateurs")
            path = "/compte/invitation"
        else:
            email = clerk.email
            user = db.scalar(select(User).where(User.email == email))
            user.must_change_password = True  # a one-time password: a link to hand over (test_account_links.py:
            db.commit()  # a password its owner chose gets none)
            answer = _post(client, f"/utilisateurs/{user.id}/lien", {}, "/utilisateurs")
            path = "/compte/reinitialisation"
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert (f"Le serveur d&#39;e-mail n&#39;a pas pris le message pour {email} (injoignable ou refus) : "
            "transmettez vous-même ce lien à cette adresse.") in html
    shown = re.search(rf'value="http://localhost({re.escape(path)}\?jeton=[\w-]+)" id="shown-link"', html)
    assert shown, html
    assert app.test_client().get(shown.group(1)).status_code == 200  # the link works


# ---- single-use links: once, and not after a password was chosen ---------------------------------

def test_a_password_change_ends_the_reset_link_asked_for_before(app, client, db) -> None:  # noqa: ANN001
    """A reset link asked for (by the owner, or by someone who can read her mailbox) stayed
    good for its hour after she changed her password: it set another one."""
    from geosignal.services import accounts

    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    _user, secret = accounts.request_reset(db, account.email)
    db.commit()
    account.login()
    changed = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": STRONG},
                    "/compte/mot-de-passe")
    assert changed.status_code == 302
    stale = app.test_client().get(f"/compte/reinitialisation?jeton={secret}")
    assert stale.status_code == 410
    assert "Ce lien a expiré ou a déjà servi" in stale.get_data(as_text=True)


def test_a_reset_ends_a_pending_invitation(app, client, db, smtp_server) -> None:  # noqa: ANN001
    """An invited account given a reset link (the invitation seemed lost) kept its invitation
    link good after the reset: whoever held it chose the password again."""
    from tests.test_accounts import _link

    referent = make_account(client, db, "referent@igretec.com", "referent")
    referent.login()
    _post(client, "/utilisateurs/inviter", {"email": "clerc@fleurus.be", "role": "representative",
                                            "commune": "52021"}, "/utilisateurs")
    user = db.scalar(select(User).where(User.email == "clerc@fleurus.be"))
    _post(client, f"/utilisateurs/{user.id}/lien", {}, "/utilisateurs")
    invitation, reset = (_link(m, p) for m, p in zip(smtp_server.to("clerc@fleurus.be"),
                                                     ("/compte/invitation", "/compte/reinitialisation"), strict=True))
    invitee = app.test_client()
    done = _post(invitee, "/compte/reinitialisation", {"jeton": reset.split("jeton=")[1], "password": STRONG}, reset)
    assert done.status_code == 302
    assert invitee.get(invitation).status_code == 410
    again = _post(invitee, "/compte/invitation", {"jeton": invitation.split("jeton=")[1],
                                                  "password": "girafe clavier nuage pelouse"}, "/login")
    assert again.status_code == 410
    db.expire_all()
    assert db.scalar(select(User).where(User.email == "clerc@fleurus.be")).check_password(STRONG)


def test_one_link_used_twice_at_once_sets_one_password(app) -> None:  # noqa: ANN001
    """Two requests using the same reset link at the same moment both found it unused and
    both set a password: the single-use link served twice."""
    from sqlalchemy import delete

    from geosignal.errors import GeosignalError
    from geosignal.services import accounts
    from geosignal.services.users import create_user
    from tests.conftest import run_together

    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, "race-link@charleroi.be", "representative", "52011", "correct horse battery")
        _user, secret = accounts.request_reset(session, "race-link@charleroi.be")
        session.commit()
    outcomes: list[str] = []

    def use(password: str):  # noqa: ANN202
        def job(session) -> None:  # noqa: ANN001
            try:
                accounts.complete_link(session, secret, "reset", password)
                session.commit()
                outcomes.append(password)
            except GeosignalError as error:
                session.rollback()
                outcomes.append(error.code)
        return job

    try:
        run_together(database, [use(STRONG), use("girafe clavier nuage pelouse")])
        assert sorted(outcomes, key=len)[0] == "invalid_link" and len(outcomes) == 2, outcomes
        winner = next(o for o in outcomes if o != "invalid_link")
        with database.session() as session:
            user = session.scalar(select(User).where(User.email == "race-link@charleroi.be"))
            assert user.check_password(winner)
    finally:
        with owner_session(database) as session:
            session.execute(delete(User).where(User.email == "race-link@charleroi.be"))
            session.commit()


# ---- bearer tokens: no wider than reading and filing data -----------------------------------------

def test_a_token_cannot_mint_a_token_that_outlives_it(app, client, db) -> None:  # noqa: ANN001
    """``POST /compte/jetons`` with ``Authorization: Bearer`` made a new 365-day token: a
    stolen 1-day token kept its access after its revocation and expiry."""
    from geosignal.models import ApiToken

    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    before = db.query(ApiToken).count()
    minted = app.test_client().post("/compte/jetons", data={"name": "persist", "days": "365"},
                                    headers={**rep.headers, "Accept": "application/json"})
    assert minted.status_code == 403 and minted.mimetype == "application/problem+json"
    assert (minted.get_json()["code"], minted.get_json()["detail"]) == (
        "forbidden", "an API token does not manage passwords, tokens, accounts, e-mails or sign-ins: sign in on the pages for that")
    assert db.query(ApiToken).count() == before
    page = app.test_client().get("/compte/jetons", headers=rep.headers)  # a page: the page of the refusal
    assert page.status_code == 403 and 'data-code="forbidden"' in page.get_data(as_text=True)
    assert rep.get("/api/v1/reports").status_code == 200  # the token still reads the API


# ---- account ids: one answer for an account one may not act on and for no account ----------------

@pytest.mark.parametrize("action", ["lien", "desactiver"])
@pytest.mark.parametrize("persona", ["representative", "referent"])
def test_an_account_one_may_not_act_on_is_answered_as_no_account(app, client, db, action: str,
                                                                 persona: str) -> None:  # noqa: ANN001
    """``POST /utilisateurs/<id>/lien`` and ``/desactiver`` with a valid CSRF token answered a
    representative 403 for an account's id and 404 for an unused one: the ids of the accounts
    could be listed. Now the same page for both: 403 for a representative, whom the route
    refuses whatever the id, 404 for the referent, for whom an admin's account is one it does
    not manage; nothing changes."""
    admin = make_account(app.test_client(), db, "admin@igretec.com", "admin")
    colleague = make_account(app.test_client(), db, "agent@charleroi.be", "representative", "52011")
    if persona == "representative":
        actor = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
        targets = [admin.email, colleague.email]
    else:
        actor = make_account(client, db, "referent@igretec.com", "referent")
        targets = [admin.email]
    assert actor.login().status_code == 302
    ids = [db.scalar(select(User.id).where(User.email == email)) for email in targets]
    unused = max(db.scalars(select(User.id))) + 1000
    answers = []
    for user_id in [*ids, unused]:
        answer = _post(client, f"/utilisateurs/{user_id}/{action}", {}, "/compte")
        page = re.sub(r'(name="csrf_token" value|nonce)="[^"]+"', "", answer.get_data(as_text=True)).replace(
            f"/utilisateurs/{user_id}/", "/utilisateurs/<id>/")
        answers.append((answer.status_code, answer.mimetype, page))
    # a representative is refused the accounts' actions whatever the id (the route's rule,
    # before the view); the referent, an account it does not manage as no account
    status, code = (403, "forbidden") if persona == "representative" else (404, "not_found")
    assert answers[0][0] == status and f'data-code="{code}"' in answers[0][2]
    assert all(a == answers[0] for a in answers), [a[:2] for a in answers]
    db.expire_all()
    for email in targets:
        user = db.scalar(select(User).where(User.email == email))
        assert user.active and user.deactivated_at is None
    from geosignal.models import AccountToken

    assert db.scalar(select(AccountToken).where(AccountToken.purpose == "reset")) is None


# ---- cache: pages with a secret or an address are never stored ----------------------------------

def test_link_pages_and_the_filled_sign_in_form_are_never_stored(app, client, db) -> None:  # noqa: ANN001
    """The reset and invitation pages (the secret in their form, the account's address) and
    the sign-in form filled in after a reset were answered without ``Cache-Control``: a
    shared computer's cache or a proxy could keep an unused secret."""
    from geosignal.services import accounts

    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    user, secret = accounts.request_reset(db, account.email)
    invitation = accounts.issue_link(db, user, "invite")
    db.commit()
    visitor = app.test_client()
    for url in (f"/compte/reinitialisation?jeton={secret}", f"/compte/invitation?jeton={invitation}",
                "/compte/reinitialisation?jeton=nope", "/login"):
        answer = visitor.get(url)
        assert answer.headers.get("Cache-Control") == "no-store", url
    form = visitor.get(f"/compte/reinitialisation?jeton={secret}")
    done = visitor.post("/compte/reinitialisation", data={"jeton": secret, "password": STRONG,
                                                          "csrf_token": csrf_token(form.get_data(as_text=True))})
    assert done.status_code == 302 and done.headers["Cache-Control"] == "no-store"
    filled = visitor.get("/login")
    assert f'value="{account.email}"' in filled.get_data(as_text=True)
    assert filled.headers["Cache-Control"] == "no-store"
    # public data may still be cached
    assert "no-store" not in visitor.get("/api/v1/communes").headers.get("Cache-Control", "")


# ---- zones: a representative reads their commune's reports in them, not a neighbour's ------------

def _points_across_the_border(db) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    """A point (lon, lat) in Charleroi and one in Châtelet, less than 100 m apart."""
    from sqlalchemy import text

    x, y = db.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Intersection(ST_Boundary(ST_Transform(a.boundary, "
        "31370)), ST_Boundary(ST_Transform(b.boundary, 31370)))) p FROM communes a, communes b "
        "WHERE a.nis_code = '52011' AND b.nis_code = '52012') s")).one()
    found: dict[str, tuple[float, float]] = {}
    for dx, dy in ((30, 0), (-30, 0), (0, 30), (0, -30), (30, 30), (-30, -30), (30, -30), (-30, 30)):
        lon, lat, nis = db.execute(text(
            "SELECT ST_X(p), ST_Y(p), (SELECT nis_code FROM communes WHERE ST_Contains(boundary, p)) FROM "
            "(SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 31370), 4326) p) s"),
            {"x": x + dx, "y": y + dy}).one()
        found.setdefault(nis, (lon, lat))
    return {k: v for k, v in found.items() if k in ("52011", "52012")}


def test_a_zone_across_the_border_shows_a_representative_their_commune_s_reports_only(client, db) -> None:  # noqa: ANN001
    """A zone holding a Châtelet report and a Charleroi report 60 m apart showed the
    representative of Châtelet the Charleroi report's id and its shape (unvalidated: only
    Charleroi, the referent and admins read it), in ``report_ids`` and the zone's geometry,
    and then the technologies and operators it names."""
    places = _points_across_the_border(db)
    assert set(places) == {"52011", "52012"}, places
    charleroi = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    chatelet = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    referent = make_account(client, db, "referent@igretec.com", "referent")
    ids = {}
    named = {"52011": (["5G"], ["DIGI"]), "52012": (["2G"], ["Orange"])}
    for nis, who in (("52011", charleroi), ("52012", chatelet)):
        posted = who.post("/api/v1/reports", json={"type": "Feature", "geometry": {
            "type": "Point", "coordinates": list(places[nis])}, "properties": {
                "network": "mobile", "technologies": named[nis][0], "operators": named[nis][1]}})
        assert posted.status_code == 201, posted.get_json()
        ids[nis] = posted.get_json()["id"]
    [whole] = referent.get("/api/v1/zones").get_json()["features"]
    assert sorted(whole["properties"]["report_ids"]) == sorted(ids.values())
    assert whole["geometry"]["type"] == "MultiPoint" and whole["properties"]["report_count"] == 2
    assert (sorted(whole["properties"]["technologies"]), sorted(whole["properties"]["operators"])) == \
        (["2G", "5G"], ["DIGI", "Orange"])
    for nis, who in (("52011", charleroi), ("52012", chatelet)):
        [seen] = who.get("/api/v1/zones").get_json()["features"]
        one = who.get(f"/api/v1/zones/{whole['id']}").get_json()
        for zone in (seen, one):
            assert zone["id"] == whole["id"]
            assert zone["properties"]["report_ids"] == [ids[nis]]
            assert zone["properties"]["report_count"] == 2  # counts are open to every signed-in user
            # and what the other commune's unvalidated report names is not theirs to read either
            assert (zone["properties"]["technologies"], zone["properties"]["operators"]) == named[nis]
            assert zone["geometry"] == {"type": "Point", "coordinates": [
                pytest.approx(v, abs=1e-9) for v in places[nis]]}


# ---- the current password: guessed no faster than at sign-in ---------------------------------------

def test_wrong_current_passwords_are_throttled_like_failed_sign_ins(client, db) -> None:  # noqa: ANN001
    """``/compte/mot-de-passe`` checked the current password without limit: whoever found a
    session open guessed it at will (sign-in allows 10 failures per 15 minutes)."""
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    account.login()
    for _ in range(10):
        wrong = _post(client, "/compte/mot-de-passe", {"current_password": "guess guess guess", "password": STRONG},
                      "/compte/mot-de-passe")
        assert wrong.status_code == 422 and 'data-code="wrong_password"' in wrong.get_data(as_text=True)
    blocked = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": STRONG},
                    "/compte/mot-de-passe")
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert 'data-code="rate_limited"' in blocked.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(User).where(User.email == account.email)).check_password(account.password)


def test_weak_new_passwords_are_not_counted_as_guesses(client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    account.login()
    for _ in range(11):
        weak = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": "short"},
                     "/compte/mot-de-passe")
        assert weak.status_code == 422 and 'data-code="weak_password"' in weak.get_data(as_text=True)
    for _ in range(11):  # nor is a current password left empty (said as missing, not as wrong)
        empty = _post(client, "/compte/mot-de-passe", {"current_password": "", "password": STRONG},
                      "/compte/mot-de-passe")
        assert empty.status_code == 422 and 'data-code="wrong_password"' in empty.get_data(as_text=True)
    done = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": STRONG},
                 "/compte/mot-de-passe")
    assert done.status_code == 302


def test_a_reset_link_asked_for_an_invited_address_leaves_the_invitation_pending(db) -> None:  # noqa: ANN001
    """"Pending" was "the account's latest link is an unused invitation": anyone asking a reset
    link for an invited address (the forgotten-password page) made the invitation look
    accepted — the accounts page stopped showing it, and the referent was refused a link to
    hand over, as if the owner had chosen a password (409). The invitation stays pending until
    a password is chosen (by it, or by a reset link, which ends every unused link)."""
    from geosignal.services import accounts
    from geosignal.services.users import create_user

    referent = db.query(User).filter_by(email="hostile-ref@igretec.com").one_or_none() or create_user(
        db, "hostile-ref@igretec.com", "referent", None, "correct horse battery")
    user, _invitation = accounts.invite(db, referent, "invitee@fleurus.be", "representative", "52022")
    db.flush()
    assert user.id in accounts.invitations_pending(db, user.id)
    _found, secret = accounts.request_reset(db, "invitee@fleurus.be")  # anyone, from the page
    accounts.issue_reset_link(db, referent, user)  # the referent's hand-over link, twice
    accounts.issue_reset_link(db, referent, user)
    db.flush()
    assert user.id in accounts.invitations_pending(db) and not accounts.password_chosen_by_owner(db, user)
    # the owner chooses a password by a reset link: the invitation is done with
    fresh = accounts.issue_reset_link(db, referent, user)
    accounts.complete_link(db, fresh, "reset", "une phrase de passe bien longue 42")
    db.flush()
    assert user.id not in accounts.invitations_pending(db) and accounts.password_chosen_by_owner(db, user)


def test_a_write_in_flight_when_its_account_is_deactivated_stores_nothing(app, db, client, monkeypatch) -> None:  # noqa: ANN001
    """The account was read once, when the request began: a report posted, or a rejection
    decided, while the account was being deactivated was stored after the deactivation. The
    account is read again (``FOR SHARE``) before the request's transaction commits: 403
    ``forbidden`` (``account_deactivated``), nothing stored; a deactivation that comes after
    waits for the commit. (The deactivation is made to happen mid-request: once the body is
    read.)"""
    from geosignal.services import accounts
    from geosignal.views import api
    from tests.factories import (
        CHARLEROI_LAMBERT72,
        count_reports,
        feature,
        square_lambert,
        to_geojson_4326,
    )

    rep = make_account(client, db, "inflight@charleroi.be", "representative", "52011")
    referent = make_account(client, db, "inflight-ref@igretec.com", "referent")
    x, y = CHARLEROI_LAMBERT72
    body = feature(to_geojson_4326(square_lambert(x + 3000, y + 3000, 200.0)))
    kept = rep.post("/api/v1/reports", json=body)
    assert kept.status_code == 201
    rid = kept.get_json()["id"]
    real = api.parse_report_feature

    def deactivated_meanwhile(email: str):  # noqa: ANN202
        def parse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            out = real(*args, **kwargs)
            with app.extensions["geosignal.db"].session() as session:
                accounts.deactivate(session, None, session.scalar(select(User).where(User.email == email)))
                session.commit()
            return out
        return parse

    before = count_reports(db)
    monkeypatch.setattr(api, "parse_report_feature", deactivated_meanwhile("inflight@charleroi.be"))
    posted = rep.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x + 3500, y + 3000, 200.0))))
    assert (posted.status_code, posted.get_json()["code"], posted.get_json()["reason"]) == (
        403, "forbidden", "account_deactivated")
    assert count_reports(db) == before
    # the referent deactivated while her rejection is decided
    from geosignal.services import workflow as workflow_service

    real_decide = workflow_service.decide

    def decide(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        chosen = real_decide(*args, **kwargs)
        with app.extensions["geosignal.db"].session() as session:
            accounts.deactivate(session, None, session.scalar(select(User).where(User.email == referent.email)))
            session.commit()
        return chosen

    monkeypatch.setattr(workflow_service, "decide", decide)
    rejected = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "rejected", "reason": "hors zone"})
    assert (rejected.status_code, rejected.get_json()["reason"]) == (403, "account_deactivated")
    db.expire_all()
    assert db.scalar(text("SELECT status FROM reports WHERE id = CAST(:i AS uuid)"), {"i": rid}) == "submitted"



def test_an_export_whose_token_is_revoked_while_it_streams_marks_nothing(app, db, representative, referent) -> None:  # noqa: ANN001
    """``POST /api/v1/exports/dwconnect?mark_transmitted=true`` with a token revoked while the
    body streams (its owner saw a token she does not recognise being used, and revoked it)
    marked every report transmitted once the last byte was read: the token was checked when
    the request began only. The token is read again before the commit: ``forbidden``
    (``token_revoked``, as a queued import of that token), the download cut short, nothing
    marked and no run recorded."""
    from shapely.geometry import Point
    from sqlalchemy import func, update

    from geosignal.errors import GeosignalError
    from geosignal.models import ApiToken, ExportRun, Report
    from geosignal.services.users import revoke_token
    from tests.factories import CHARLEROI_LAMBERT72, feature, to_geojson_4326

    assert representative.post("/api/v1/reports", json=feature(to_geojson_4326(Point(*CHARLEROI_LAMBERT72)))
                               ).status_code == 201
    db.execute(update(Report).values(status="validated"))
    db.commit()
    runs = db.scalar(select(func.count()).select_from(ExportRun))
    db.commit()  # (the test's savepoint ends before the request's begins: they share one connection)
    streaming = app.test_client().post("/api/v1/exports/dwconnect?mark_transmitted=true", headers=referent.headers,
                                       buffered=False)
    assert streaming.status_code == 200
    owner = db.scalar(select(User).where(User.email == referent.email))
    revoke_token(db, owner, db.scalar(select(ApiToken.id).where(ApiToken.user_id == owner.id)))
    db.commit()
    assert app.test_client().get("/api/v1/exports/runs", headers=referent.headers).status_code == 401
    with pytest.raises(GeosignalError) as caught:
        b"".join(streaming.response)
    streaming.close()
    assert (caught.value.code, caught.value.status, caught.value.extra["reason"]) == ("forbidden", 403,
                                                                                      "token_revoked")
    db.expire_all()
    assert db.scalars(select(Report.status)).all() == ["validated"]
    assert db.scalar(select(func.count()).select_from(ExportRun)) == runs
    # a token in force still marks what it exports
    fresh = make_account(app.test_client(), db, "admin@igretec.com", "admin")
    done = app.test_client().post("/api/v1/exports/dwconnect?mark_transmitted=true", headers=fresh.headers)
    assert done.status_code == 200 and done.get_data()
    db.expire_all()
    assert db.scalars(select(Report.status)).all() == ["transmitted"]


# ---- account administration: a double click, odd addresses and communes ---------------------------

def test_the_same_address_invited_twice_at_once_is_one_account_and_a_coded_refusal(app) -> None:  # noqa: ANN001
    """Two invitations of one address at the same moment (a double click) both found it free;
    the second failed on the unique index, and the error page itself failed: a bare 500."""
    from sqlalchemy import delete

    from geosignal.errors import GeosignalError
    from geosignal.services.users import create_user
    from tests.conftest import run_together

    database = app.extensions["geosignal.db"]
    outcomes: list[str] = []

    def invite(session) -> None:  # noqa: ANN001
        try:
            create_user(session, "twice@thuin.be", "representative", "56078", STRONG)
            session.commit()
            outcomes.append("created")
        except GeosignalError as error:
            session.rollback()
            outcomes.append(f"{error.code}/{error.extra.get('kind')}")

    # the other invitation in flight: its row inserted, not yet committed
    with database.engine.connect() as other:
        transaction = other.begin()
        other.execute(text("INSERT INTO users (email, password_hash, role, commune_nis) "
                           "VALUES ('twice@thuin.be', 'x', 'representative', '56078')"))
        import threading

        waiting = threading.Thread(target=lambda: run_together(database, [invite]))
        waiting.start()
        waiting.join(1.0)  # it waits on the unique index
        transaction.commit()
        waiting.join(30)
    try:
        assert outcomes == ["invalid_request/email_taken"]
        run_together(database, [invite, invite])
        assert outcomes[1:] == ["invalid_request/email_taken"] * 2
        with database.session() as session:
            assert session.scalars(select(User.email).where(User.email == "twice@thuin.be")).all() == ["twice@thuin.be"]
    finally:
        with owner_session(database) as session:
            session.execute(delete(User).where(User.email == "twice@thuin.be"))
            session.commit()


@pytest.mark.parametrize("address", ["\u212aim@thuin.be", "clerc@thuin.be\x1f", "\x1cclerc@thuin.be",
                                     "clerc@thuin.be\u2028", "clerc@thuin.be\u00a0"])
def test_an_address_with_a_character_python_would_drop_or_fold_is_refused(client, db, address: str) -> None:  # noqa: ANN001
    """Python's strip() took U+2028, NBSP or \\x1c away and lower() made the Kelvin sign a k:
    the address stored was not the one typed."""
    make_account(client, db, "admin@igretec.com", "admin").login()
    answer = _post(client, "/utilisateurs/inviter", {"email": address, "role": "representative",
                                                     "commune": "56078"}, "/utilisateurs")
    assert answer.status_code == 422
    assert db.scalars(select(User.email).where(User.email.like("%thuin.be"))).all() == []


def test_a_commune_with_a_nul_is_an_unknown_commune(client, db) -> None:  # noqa: ANN001
    make_account(client, db, "admin@igretec.com", "admin").login()
    answer = _post(client, "/utilisateurs/inviter", {"email": "clerc@thuin.be", "role": "representative",
                                                     "commune": "56078\x00"}, "/utilisateurs")
    assert answer.status_code == 422 and 'data-code="unknown_commune"' in answer.get_data(as_text=True)
    assert db.scalar(select(User).where(User.email == "clerc@thuin.be")) is None


def test_deactivating_twice_keeps_the_first_time_and_journal(client, db) -> None:  # noqa: ANN001
    make_account(client, db, "admin@igretec.com", "admin").login()
    make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    user = db.scalar(select(User).where(User.email == "echevin@charleroi.be"))
    assert _post(client, f"/utilisateurs/{user.id}/desactiver", {"confirm": "1"}, "/utilisateurs").status_code == 302
    db.expire_all()
    first = db.execute(select(User.deactivated_at, User.session_version).where(User.id == user.id)).one()
    again = _post(client, f"/utilisateurs/{user.id}/desactiver", {"confirm": "1"}, "/utilisateurs")  # a double click
    assert again.status_code == 409
    assert "Ce compte est déjà désactivé : rien n&#39;a été changé." in again.get_data(as_text=True)
    db.expire_all()
    assert db.execute(select(User.deactivated_at, User.session_version).where(User.id == user.id)).one() == first
    assert db.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'deactivate' "
                          "AND details->>'account_email' = 'echevin@charleroi.be'")) == 1
