"""The e-mail preferences page (/compte/notifications): what one is told by e-mail, and how
(one message per event, a daily digest, or none); and the unsubscribe link every notification
carries (/compte/notifications/desabonnement?jeton=…), which works without signing in."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import login_required

from geosignal import i18n
from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.services import notifications

bp = Blueprint("notifications", __name__)


def _page(user, error: GeosignalError | None = None, status: int = 200) -> tuple[str, int]:  # noqa: ANN001
    return render_template("account_notifications.html", user=user, error=error,
                           mail_configured=bool(current_app.config.get("SMTP_HOST"))), status


@bp.route("/compte/notifications", methods=["GET", "POST"])
@login_required
def preferences() -> Response | tuple[str, int]:
    """Show and change one's e-mail preferences (``notification_mail``: each, digest, none)."""
    user = current()
    if request.method == "POST":
        session = get_session()
        try:
            notifications.set_notification_mail(session, user, request.form.get("notification_mail") or "")
        except GeosignalError as error:
            session.rollback()
            return _page(user, error, error.status)
        session.commit()
        flash(_("Préférences enregistrées."), "success")
        return redirect(url_for("notifications.preferences"))
    return _page(user)


@bp.route(notifications.UNSUBSCRIBE_PATH, methods=["GET", "POST"])
def unsubscribe() -> tuple[str, int]:
    """The unsubscribe link of the notifications (``?jeton=``, made by
    :func:`geosignal.services.notifications.unsubscribe_token`), signed in or not.

    GET only asks to confirm (mail scanners and link previews fetch links: nothing changes);
    POST, from that page's button or a mail program's one-click (RFC 8058, body
    ``List-Unsubscribe=One-Click``, no CSRF token: the link's token authorises it), stops every
    e-mail to the account (``notification_mail`` = ``none``) and says so. A token that is not
    valid gets 404 ``invalid_unsubscribe_link`` and changes nothing. The page speaks the
    account's language unless this browser chose one.
    """
    session = get_session()
    token = request.values.get("jeton") or ""
    secret_key = current_app.config.get("SECRET_KEY") or ""
    try:
        user = notifications.user_of_unsubscribe_token(session, secret_key, token)
    except GeosignalError as error:
        return render_template("error.html", error=error), error.status
    given = user.locale or user.page_locale
    if given in i18n.LANGUAGES and i18n.COOKIE not in request.cookies:
        g.geosignal_language = given
        refresh()
    if request.method == "POST":
        notifications.unsubscribe(session, secret_key, token)
        session.commit()
        return render_template("account_unsubscribe.html", done=True, email=user.email, token=token), 200
    return render_template("account_unsubscribe.html", done=False, email=user.email, token=token), 200
