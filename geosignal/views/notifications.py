"""The e-mail preferences page (/compte/notifications): what one is told by e-mail, and for
the referent, one message per submission or a daily digest."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.services import notifications

bp = Blueprint("notifications", __name__)


@bp.route("/compte/notifications", methods=["GET", "POST"])
@login_required
def preferences() -> Response | tuple[str, int]:
    """Show and change one's e-mail preferences."""
    user = current()
    if request.method == "POST":
        session = get_session()
        try:
            notifications.set_submission_mail(session, user, request.form.get("submission_mail") or "")
        except GeosignalError as error:
            session.rollback()
            return render_template("account_notifications.html", user=user, error=error,
                                   mail_configured=bool(current_app.config.get("SMTP_HOST"))), error.status
        session.commit()
        flash(_("Préférences enregistrées."), "success")
        return redirect(url_for("notifications.preferences"))
    return render_template("account_notifications.html", user=user, error=None,
                           mail_configured=bool(current_app.config.get("SMTP_HOST"))), 200
