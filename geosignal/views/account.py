"""Account pages: password change, forgotten password, invitation and reset links, and the
users page of admins and the referent (invite, deactivate once confirmed, reactivate). Thin views over
:mod:`geosignal.services.accounts`; e-mails through :mod:`geosignal.services.mail`.

Single-use links carry their secret in the query string (``?jeton=…``): the access log
writes paths without query strings, and the forms post the secret back in their body.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_babel import force_locale, refresh
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from geosignal import formparse, i18n, policy, ui_text, vocab
from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.errors_web import wants_json
from geosignal.i18n import ngettext
from geosignal.models import Commune, User
from geosignal.params import MAX_INT
from geosignal.ratelimit import (
    LOGIN_PER_ACCOUNT,
    PASSWORD_GUESSES_SCOPE,
    limiter,
    login_account_key,
)
from geosignal.security import public_base_url
from geosignal.services import accounts, audit
from geosignal.services import communes as communes_service
from geosignal.services.mail import MailSettings, build_message, link_base, send

bp = Blueprint("account", __name__)
log = logging.getLogger(__name__)

#: Reset requests allowed per address and per account (every request counts).
RESET_PER_ADDRESS = "10 per 15 minutes"
RESET_PER_ACCOUNT = "3 per hour"

#: Endpoints open to a user who must change a password first.
_OPEN_WHILE_CHANGING = {"account.change_password", "pages.logout", "static", "health.healthz", "health.readyz",
                        "i18n.set_language", "i18n.catalogue"}


@bp.before_app_request
def _force_password_change() -> Response | None:
    """Send a user whose password was shown on a terminal to the change page first; where
    errors are problem+json (``/api``, ``/ogc``: :func:`geosignal.errors_web.wants_json`), answer
    403 ``password_change_required`` instead (a client holding a token follows no redirect to a
    form)."""
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_WHILE_CHANGING or endpoint.startswith("vendor."):
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        if wants_json():
            raise GeosignalError("password_change_required",
                                 "this account must change its one-time password first: sign in at /login "
                                 "and choose one (/compte/mot-de-passe); its tokens work from then on")
        return redirect(url_for("account.change_password"))
    return None


def _send_quietly(settings: MailSettings, message: EmailMessage) -> bool:
    """Send ``message``; a server that cannot be reached or refuses it is logged (the
    recipient's domain only: the message holds a single-use link) and gives False."""
    try:
        return send(settings, message)
    except (smtplib.SMTPException, OSError) as error:
        log.warning("e-mail to …@%s not sent: %s", str(message["To"]).rpartition("@")[2], type(error).__name__)
        return False


def _message(settings: MailSettings, to: str, subject: str, paragraphs: list[str],
             link: tuple[str, str] | None) -> EmailMessage:
    """:func:`build_message` in the current language (the page's, in which ``subject`` and
    ``paragraphs`` were translated): its signature, the HTML part's ``lang``, its colons."""
    return _Mail.in_page_language(settings, subject, paragraphs).to(to, link)


def _mail_after_answer(response: Response, to: str, subject: str, paragraphs: list[str],
                       link: tuple[str, str]) -> Response:
    """Send the message once ``response`` has gone (``call_on_close``): the answer is the same,
    and as fast, whether an e-mail leaves or not, and whether the mail server answers or not."""
    settings = MailSettings.from_config(current_app.config)
    message = _message(settings, to, subject, paragraphs, link)
    response.call_on_close(lambda: _send_quietly(settings, message))
    return response


@dataclass(frozen=True)
class _Mail:
    """An e-mail of the account pages, translated during the request (the page's language: its
    signature, the HTML part's ``lang``, its colons), to be addressed now or after the answer
    (:func:`_reset_after_answer`, outside any request, when its link is known)."""

    settings: MailSettings
    subject: str
    paragraphs: list[str]
    lang: str
    colon: str
    signature: str

    @classmethod
    def in_page_language(cls, settings: MailSettings, subject: str, paragraphs: list[str]) -> _Mail:
        """The mail of ``subject`` and ``paragraphs`` (translated already) in the page's language."""
        lang = i18n.current_language()
        return cls(settings, subject, paragraphs, lang, ui_text.colon(lang),
                   _("— geosignal, zones blanches de Charleroi Métropole"))

    def to(self, address: str, link: tuple[str, str] | None) -> EmailMessage:
        """The message to ``address``, carrying ``link`` (its label and address) when given."""
        return build_message(self.settings, address, self.subject, self.paragraphs, link, lang=self.lang,
                             colon=self.colon, signature=self.signature)


def _reset_after_answer(app: Flask, email: str, mails: dict[str, tuple[_Mail, str]], page: str,
                        link_path: str) -> None:
    """Once the answer to a reset request has gone (``call_on_close``): issue a reset link if
    ``email`` is an active account's (:func:`accounts.request_reset`), commit, and send it in
    the account's language — the one it chose, else the one its pages last spoke, else
    ``page``, the asking page's (whoever asks chooses no account's language) — from ``mails``
    (per language: the mail and its link's label; the link ``link_path?jeton=<secret>``,
    ``link_path`` absolute). The answer, and its time, are then the same whatever the address;
    a failure is logged, never raised (nobody is waiting for it)."""
    try:
        with app.app_context(), app.extensions["geosignal.db"].session() as session:
            found = accounts.request_reset(session, email)
            if found is None:  # said to the operator (no address: the log names nobody)
                log.info("reset link asked for an address with no account in force: none issued")
                return
            user, secret = found
            session.commit()
            address = user.email
            lang = next((x for x in (user.locale, user.page_locale) if x in mails), page)
    except Exception:  # noqa: BLE001 — after the answer: logged, the person may ask again
        log.exception("reset link not issued")
        return
    mail, label = mails[lang]
    if _send_quietly(mail.settings, mail.to(address, (label, f"{link_path}?{urlencode({'jeton': secret})}"))):
        log.info("reset link issued and sent (%s)", lang)


def _mailed_link(endpoint: str, secret: str) -> str:
    """The address of a single-use link as an e-mail carries it: from the configured public
    address (:func:`geosignal.services.mail.link_base`), never from the request's ``Host``
    header, which whoever asks for a reset link chooses."""
    return link_base(current_app.config) + url_for(endpoint, jeton=secret)


def _shown_link(endpoint: str, secret: str) -> str:
    """The address of a single-use link shown to the referent or administrator who made it,
    to hand over: the address they are using (:func:`geosignal.security.public_base_url`)."""
    return public_base_url() + url_for(endpoint, jeton=secret)


@bp.get("/compte")
@login_required
def account_page() -> str:
    """One's account: e-mail, role, commune, the language of the pages (saved as the user's
    preference through ``POST /langue``), links to the password and the API tokens."""
    user = current()
    commune = get_session().get(Commune, user.commune_nis) if user.commune_nis else None
    return render_template("account.html", user=user, commune=commune)


def _signed_in_account_key() -> str:
    """The rate-limit key of the signed-in account (its e-mail), for the password and tokens
    pages: the key the sign-in form gives the same account (:func:`login_account_key`), in
    the same scope, so that wrong guesses anywhere count in one budget."""
    return "account:" + (current_user.email if current_user.is_authenticated else "")


@bp.route("/compte/mot-de-passe", methods=["GET", "POST"])
@login_required
@limiter.shared_limit(LOGIN_PER_ACCOUNT, PASSWORD_GUESSES_SCOPE, key_func=_signed_in_account_key, methods=["POST"],
                      deduct_when=lambda _response: bool(g.get("wrong_current_password")))
def change_password() -> Response | str | tuple[str, int]:
    """Change one's password (the current one is asked for; wrong ones are throttled per
    account as failed sign-ins are: a session left open must not let anyone guess it)."""
    user = current()
    if request.method == "POST":
        try:
            revoked = accounts.change_password(get_session(), user, request.form.get("current_password") or "",
                                               request.form.get("password") or "",
                                               revoke_tokens=formparse.flag(request.form.get("revoke_tokens"),
                                                                            where="revoke_tokens"))
        except GeosignalError as error:
            # a guess counts; an empty field is none (said as such: kind "missing")
            g.wrong_current_password = error.code == "wrong_password" and error.extra.get("kind") != "missing"
            return _password_page(user, error), 422
        from flask_login import login_user

        get_session().commit()
        login_user(user)  # the new session version: this browser stays signed in, others not
        flash(_("Mot de passe changé. Vos autres sessions sont fermées."), "success")
        if revoked:
            flash(ngettext("%(num)s jeton API révoqué : créez-en un nouveau pour chaque logiciel qui doit encore "
                           "accéder à l'API.",
                           "%(num)s jetons API révoqués : créez-en un nouveau pour chaque logiciel qui doit encore "
                           "accéder à l'API.", revoked), "notice")
        return redirect(url_for("pages.index"))
    return _password_page(user, None)


def _password_page(user: User, error: GeosignalError | None) -> str:
    """The password change page; the API tokens in force are counted, to be revoked with it
    (checked by default: a password changed because it may be known, a token made meanwhile
    would outlive it; not for a one-time password, whose tokens only the operator at the
    terminal can have made)."""
    asked = (not user.must_change_password) if request.method == "GET" else bool(request.form.get("revoke_tokens"))
    return render_template("account_password.html", error=error, forced=user.must_change_password,
                           tokens=accounts.active_token_count(get_session(), user), revoke_tokens=asked)


@bp.route("/compte/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit(RESET_PER_ACCOUNT, key_func=login_account_key, methods=["POST"])
@limiter.limit(RESET_PER_ADDRESS, methods=["POST"])
def forgot_password() -> Response | str | tuple[str, int]:
    """Ask for a reset link; the answer is the same whether the address has an account or not."""
    if request.method == "POST":
        if not MailSettings.from_config(current_app.config).host:
            # no e-mail can leave this service: say so (the same for every address) and who can help
            flash(_("Ce service n'envoie pas d'e-mails : demandez à la personne qui l'exploite (le service "
                    "informatique) de vous fixer un mot de passe provisoire, à changer à la connexion. Un compte "
                    "dont l'invitation n'a pas encore été acceptée reçoit un lien du référent Smart Region, depuis "
                    "la page Comptes."), "error")
            return redirect(url_for("pages.login"))
        if not (request.form.get("email") or "").strip():
            flash(_("Indiquez l'adresse e-mail de votre compte : le lien y sera envoyé."), "error")
            return render_template("account_forgot.html", missing="email"), 422
        flash(_("Si un compte existe pour cette adresse, un e-mail vient de lui être envoyé "
                "(le lien expire dans une heure)."), "success")
        answer = redirect(url_for("pages.login"))
        # looked up, issued and sent after the answer: a link issued (and committed) before it
        # made a known address's answer slower than an unknown one's, as a slow mail server did
        # written now in every language (the same work whatever the address), sent after the
        # answer in the account's (its choice, else its pages' last), else in this page's
        settings, page = MailSettings.from_config(current_app.config), i18n.current_language()
        mails: dict[str, tuple[_Mail, str]] = {}
        for lang in i18n.LANGUAGES:
            with force_locale(i18n.BABEL_LOCALES[lang]):
                mails[lang] = (_Mail.in_page_language(settings, _("geosignal : réinitialiser votre mot de passe"), [
                    _("Bonjour,"),
                    _("Quelqu'un (vous, sans doute) a demandé à réinitialiser le mot de passe de votre compte "
                      "geosignal. Le lien ci-dessous sert une fois et expire dans une heure."),
                    _("Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas."),
                ]), _("Choisir un nouveau mot de passe"))
        path = link_base(current_app.config) + url_for("account.reset_password")
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        email = request.form.get("email") or ""
        answer.call_on_close(lambda: _reset_after_answer(app, email, mails, page, path))
        return answer
    return render_template("account_forgot.html")


def _account_for(user: User) -> str:
    """What an account is for, in the current language: its role, and a representative's
    commune (name and NIS code), as the invitation says it before anything is chosen."""
    commune = get_session().get(Commune, user.commune_nis) if user.commune_nis else None
    if commune is None:
        return _("Votre rôle : %(role)s.", role=i18n.label(user.role))
    return _("Votre rôle : %(role)s ; votre commune : %(commune)s (%(nis)s).", role=i18n.label(user.role),
             commune=commune.name_fr, nis=commune.nis_code)


def _complete(purpose: str, template: str) -> Response | str | tuple[str, int]:
    secret = request.values.get("jeton") or ""
    session = get_session()
    try:
        link = accounts.find_link(session, secret, purpose)
    except GeosignalError as error:
        return render_template("error.html", error=error), error.status
    given = link.user.locale if link.user.locale in i18n.LANGUAGES and i18n.COOKIE not in request.cookies else None
    if given:  # the page speaks the account's language (an invitation's), unless this browser chose one
        g.geosignal_language = given
        refresh()
    if request.method == "POST":
        try:
            accounts.complete_link(session, secret, purpose, request.form.get("password") or "")
        except GeosignalError as error:
            return render_template(template, error=error, secret=secret, email=link.user.email,
                                   account_for=_account_for(link.user)), error.status
        session.commit()
        flash(_("Mot de passe enregistré : connectez-vous."), "success")
        cookie_session["login_email"] = link.user.email  # the sign-in form comes filled in with it
        response = redirect(url_for("pages.login"))
        return i18n.remember_language(response, given) if given else response  # the sign-in page's too
    return render_template(template, error=None, secret=secret, email=link.user.email,
                           account_for=_account_for(link.user))


@bp.route("/compte/reinitialisation", methods=["GET", "POST"])
def reset_password() -> Response | str | tuple[str, int]:
    """Set a new password through a reset link (single use, 1 h)."""
    return _complete("reset", "account_reset.html")


@bp.route("/compte/invitation", methods=["GET", "POST"])
def accept_invitation() -> Response | str | tuple[str, int]:
    """Choose the password of an invited account (single use, 72 h)."""
    return _complete("invite", "account_invitation.html")


def _users_page(status: int = 200, error: GeosignalError | None = None, shown_link: str | None = None,  # noqa: ANN202
                values: dict[str, str] | None = None, shown_link_kind: str = "invite"):
    policy.require(policy.may_manage_users(current()), "Cette page est réservée au référent et aux administrateurs.")
    session = get_session()
    users = session.scalars(select(User).order_by(User.active.desc(), User.role, User.email)).all()
    communes = communes_service.commune_choices(session)
    roles = [r for r in vocab.ROLES if accounts.may_invite(current(), r)]
    return render_template("users.html", users=users, communes=communes, roles=roles, error=error,
                           shown_link=shown_link, me=current(), values=values or {},
                           commune_names=dict(communes), pending=accounts.invitations_pending(session),
                           shown_link_kind=shown_link_kind, may_deactivate=accounts.may_deactivate,
                           may_reactivate=accounts.may_reactivate,
                           may_send_reset_link=policy.may_send_reset_link), status


@bp.get("/utilisateurs")
@login_required
def users_page() -> tuple[str, int]:
    """Accounts (admins and the referent): invite, deactivate; admins reactivate."""
    policy.require(policy.may_manage_users(current()), "Cette page est réservée au référent et aux administrateurs.")
    return _users_page()


@bp.post("/utilisateurs/inviter")
@login_required
def invite_user():  # noqa: ANN201
    """Invite somebody: the account is created and a single-use link (72 h) e-mailed."""
    inviter = current()
    session = get_session()
    try:
        user, secret = accounts.invite(session, inviter, request.form.get("email") or "",
                                       request.form.get("role") or "", request.form.get("commune") or None,
                                       request.form.get("locale") or None)
    except GeosignalError as error:
        session.rollback()  # nothing of a refused invitation is stored
        return _users_page(error.status, error, values={k: request.form.get(k) or ""
                                                        for k in ("email", "role", "commune", "locale")})
    # the message is built before the account is committed: what it cannot carry is not stored;
    # in the invited person's language, not the inviter's
    settings = MailSettings.from_config(current_app.config)
    with force_locale(i18n.BABEL_LOCALES[accounts.mail_language(user)]):
        message = _message(settings, user.email, _("geosignal : votre invitation"), [
            _("Bonjour,"),
            _("%(inviter)s vous invite à signaler et suivre les zones blanches de connectivité sur "
              "geosignal, la plateforme de Charleroi Métropole.", inviter=inviter.email),
            _account_for(user),
            _("Le lien ci-dessous sert une fois et expire dans 72 heures : choisissez-y votre mot de passe."),
        ], (_("Accepter l'invitation"), _mailed_link("account.accept_invitation", secret)))
    return _send_or_hand_over(session, settings, message, _shown_link("account.accept_invitation", secret), "invite",
                              _("Invitation envoyée à %(email)s (valable 72 heures).", email=user.email),
                              _("Aucun serveur d'e-mail n'est configuré : transmettez vous-même ce lien à "
                                "%(email)s.", email=user.email))


def _send_or_hand_over(session, settings: MailSettings, message, url: str, kind: str,  # noqa: ANN001, ANN202
                       sent: str, unsent: str, *, journal: Callable[[str], None] | None = None,
                       hand_over: bool = True, withdraw: Callable[[], None] | None = None):
    """Commit, then e-mail ``message`` (saying ``sent``); without a mail server, show ``url``
    (a single-use link, ``kind`` ``invite`` or ``reset``) on the accounts page to the person
    who made it, to hand over once (saying ``unsent``); the same when the mail server cannot
    be reached or refuses the message (saying so: the account or link exists already). A link
    not to be handed over (``hand_over`` False: for its owner alone) is ended by ``withdraw``
    instead when the message cannot leave. ``journal(delivered)`` records how it went:
    ``mail`` or ``shown``."""
    def delivered(how: str) -> None:
        if journal:
            journal(how)
        session.commit()

    if not settings.host:
        delivered("shown")
        flash(unsent, "error")
        return _users_page(shown_link=url, shown_link_kind=kind)
    session.commit()
    if _send_quietly(settings, message):
        delivered("mail")
        flash(sent, "success")
        return redirect(url_for("account.users_page"))
    if not hand_over:
        if withdraw:
            withdraw()
        session.commit()
        flash(_("Le serveur d'e-mail n'a pas pris le message pour %(email)s (injoignable ou refus) : aucun lien n'a "
                "été donné. Réessayez plus tard.", email=str(message["To"])), "error")
        return _users_page()
    delivered("shown")
    flash(_("Le serveur d'e-mail n'a pas pris le message pour %(email)s (injoignable ou refus) : transmettez "
            "vous-même ce lien à cette adresse.", email=str(message["To"])), "error")
    return _users_page(shown_link=url, shown_link_kind=kind)


def _account_to_act_on(user_id: int, may: Callable[[User, User], bool]) -> User:
    """Return the account ``user_id`` when the signed-in user may act on it (``may(actor,
    account)``, a rule of :mod:`geosignal.policy`); ``not_found`` (404) otherwise, the same
    answer whether the id is an account or not (a representative told one from the other:
    403 for accounts, 404 for unused ids)."""
    user = get_session().get(User, user_id)
    if user is None or not may(current(), user):
        raise GeosignalError("not_found", accounts.NO_SUCH_ACCOUNT)
    return user


@bp.post(f"/utilisateurs/<int(max={MAX_INT}):user_id>/lien")
@login_required
def send_reset_link(user_id: int) -> Response | tuple[str, int]:
    """Give an account a link to choose a new password (one hour, once): e-mailed to it, or,
    without a mail server, shown to the referent or administrator who asked, to hand over —
    only for an account whose owner has not chosen a password yet (a one-time password, an
    invitation pending). A password its owner chose is changed by its owner alone: the link
    goes only to the account's address, and without a mail server none is made (the operator
    sets one at the terminal). Journalled (``reset_link``, how it was delivered)."""
    session = get_session()
    user = _account_to_act_on(user_id, policy.may_send_reset_link)
    settings = MailSettings.from_config(current_app.config)
    owner_chose = accounts.password_chosen_by_owner(session, user)
    if owner_chose and not settings.host:
        flash(_("%(email)s a choisi son mot de passe : un lien pour en choisir un autre ne part que par e-mail, à "
                "cette adresse, jamais à la personne qui le demande. Aucun serveur d'e-mail n'est configuré : "
                "l'exploitant du service peut en fixer un au terminal (geosignal set-password).",
                email=user.email), "error")
        return _users_page(409)
    secret = accounts.issue_reset_link(session, current(), user)
    with force_locale(i18n.BABEL_LOCALES[accounts.mail_language(user)]):  # the recipient's language
        message = _message(settings, user.email, _("geosignal : réinitialiser votre mot de passe"), [
            _("Bonjour,"),
            _("%(actor)s vous envoie un lien pour choisir un nouveau mot de passe geosignal. Il sert une fois "
              "et expire dans une heure.", actor=current().email),
        ], (_("Choisir un nouveau mot de passe"), _mailed_link("account.reset_password", secret)))
    return _send_or_hand_over(session, settings, message, _shown_link("account.reset_password", secret), "reset",
                              _("Lien envoyé à %(email)s (valable une heure).", email=user.email),
                              _("Aucun serveur d'e-mail n'est configuré : transmettez vous-même ce lien à %(email)s "
                                "(valable une heure, une seule fois).", email=user.email),
                              journal=lambda how: audit.record_account(session, "reset_link", current(), user,
                                                                       delivered=how),
                              hand_over=not owner_chose, withdraw=lambda: accounts.end_links(session, user, "reset"))


@bp.post(f"/utilisateurs/<int(max={MAX_INT}):user_id>/desactiver")
@login_required
def deactivate_user(user_id: int) -> Response | str:
    """Deactivate an account (never deleted), once confirmed: the accounts page's button leads
    to a page saying what it does and how it is undone (the form without ``confirm=1``), whose
    button deactivates (as a withdrawal or a rejection is confirmed: one click on the button
    beside « Lien de nouveau mot de passe » locked a commune's representative out). An account
    deactivated already is said so (409), confirmed or not."""
    session = get_session()
    user = _account_to_act_on(user_id, policy.may_deactivate)
    if request.form.get("confirm") != "1" and user.in_force:
        commune = session.get(Commune, user.commune_nis) if user.commune_nis else None
        return render_template("user_deactivate_confirm.html", user=user, commune=commune,
                               gives_links=user.role != "representative")
    accounts.deactivate(session, current(), user)
    session.commit()
    flash(_("Compte %(email)s désactivé : ses sessions et jetons ne fonctionnent plus.", email=user.email), "success")
    return redirect(url_for("account.users_page"))


@bp.post(f"/utilisateurs/<int(max={MAX_INT}):user_id>/reactiver")
@login_required
def reactivate_user(user_id: int):  # noqa: ANN201
    """Reactivate a deactivated account (admins: :func:`geosignal.policy.may_reactivate`): its
    owner chooses a new password through a new invitation link (72 h), e-mailed in their
    language or, without a mail server, shown to the admin to hand over, as an invitation is
    (:func:`geosignal.services.accounts.reactivate`; journalled)."""
    session = get_session()
    user = _account_to_act_on(user_id, policy.may_reactivate)
    secret = accounts.reactivate(session, current(), user)
    settings = MailSettings.from_config(current_app.config)
    with force_locale(i18n.BABEL_LOCALES[accounts.mail_language(user)]):  # the recipient's language
        message = _message(settings, user.email, _("geosignal : votre compte est réactivé"), [
            _("Bonjour,"),
            _("%(actor)s a réactivé votre compte geosignal.", actor=current().email),
            _account_for(user),
            _("Le lien ci-dessous sert une fois et expire dans 72 heures : choisissez-y votre mot de passe."),
        ], (_("Choisir un nouveau mot de passe"), _mailed_link("account.accept_invitation", secret)))
    return _send_or_hand_over(session, settings, message, _shown_link("account.accept_invitation", secret), "invite",
                              _("Compte %(email)s réactivé : un lien pour choisir son mot de passe lui a été envoyé "
                                "(valable 72 heures).", email=user.email),
                              _("Compte %(email)s réactivé. Aucun serveur d'e-mail n'est configuré : transmettez "
                                "vous-même ce lien à %(email)s.", email=user.email))


@bp.route("/compte/jetons", methods=["GET", "POST"])
@login_required
@limiter.shared_limit(LOGIN_PER_ACCOUNT, PASSWORD_GUESSES_SCOPE, key_func=_signed_in_account_key, methods=["POST"],
                      deduct_when=lambda _response: bool(g.get("wrong_current_password")))
def tokens_page() -> tuple[str, int] | Response:
    """One's API tokens (for QGIS, scripts): create a named one (shown once), list, revoke.
    Creating one asks for the current password (a session left open, or taken, must not make
    access that outlives it; wrong ones are throttled as failed sign-ins are), and e-mails its
    owner that it was made (when a mail server is configured)."""
    from geosignal.services import users as users_service

    user = current()
    session = get_session()
    created = error = None
    status = 200
    typed: dict[str, str] = {}
    if request.method == "POST":
        typed = {name: request.form.get(name) or "" for name in ("name", "days")}
        try:
            # every bad lifetime (no whole number, 0, 400) is one refusal, said before the password is checked
            days = users_service.token_days(formparse.whole_number(typed["days"].strip() or
                                                                   str(users_service.TOKEN_DAYS)))
            accounts.check_current_password(user, request.form.get("current_password") or "")
            created = users_service.create_token(session, user.email, name=typed["name"], days=days, actor=user)
            session.commit()
            typed = {}  # a new form for the next token
        except GeosignalError as exc:
            # the form again, with what was typed (not the password) and the sentence next to its field
            error, status = exc, exc.status
            g.wrong_current_password = exc.code == "wrong_password" and exc.extra.get("kind") != "missing"
            if exc.where == "days":
                exc.extra["message"] = _("Durée : écrivez un nombre entier de jours, de 1 à %(max)s (par exemple "
                                         "%(example)s).", max=users_service.MAX_TOKEN_DAYS,
                                         example=users_service.TOKEN_DAYS)
    page = render_template("account_tokens.html", tokens=users_service.list_tokens(session, user),
                           created=created, error=error, typed=typed,
                           default_days=users_service.TOKEN_DAYS)
    if not created or not MailSettings.from_config(current_app.config).host:
        return page, status
    # its owner is told by e-mail (after the answer): a token made from a session someone else
    # holds is seen, and revoked, from the page the message links
    name = (request.form.get("name") or "").strip() or "—"
    return _mail_after_answer(make_response(page, status), user.email, _("geosignal : un jeton API a été créé"), [
        _("Bonjour,"),
        ngettext("Un jeton d'accès à l'API nommé « %(name)s », valable %(num)s jour, vient d'être créé pour votre "
                 "compte geosignal depuis la page Jetons API.",
                 "Un jeton d'accès à l'API nommé « %(name)s », valable %(num)s jours, vient d'être créé pour votre "
                 "compte geosignal depuis la page Jetons API.", days, name=name),
        _("Si ce n'est pas vous : révoquez-le depuis cette page et changez votre mot de passe, en révoquant aussi "
          "vos jetons."),
    ], (_("Voir mes jetons API"), link_base(current_app.config) + url_for("account.tokens_page")))


@bp.post(f"/compte/jetons/<int(max={MAX_INT}):token_id>/revoquer")
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke one of one's tokens (admins: anybody's)."""
    from geosignal.services import users as users_service

    users_service.revoke_token(get_session(), current(), token_id)
    get_session().commit()
    flash(_("Jeton révoqué : il ne donne plus accès à l'API."), "success")
    return redirect(url_for("account.tokens_page"))
