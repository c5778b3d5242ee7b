"""Who may do what: every authorisation decision of geosignal in one place.

Roles (:data:`geosignal.vocab.ROLES`): a **representative** speaks for one commune (NIS code);
the **referent** reads and moderates every commune's reports but files none; an **admin** does
everything. Anonymous visitors read only open data (communes, confirmed white zones in the OGC
API, the export schema, health: ``/readyz``'s details to the referent, admins and the machine
itself only).

Decisions are plain functions of (user, commune NIS code, ...) returning ``bool``; the
``require_*`` helpers raise the coded :class:`~geosignal.errors.GeosignalError` a view or a
service answers with. Nothing here imports Flask, so services, views, the OGC API and
templates (``policy`` is a Jinja global) all call the same rules.

:data:`ROUTE_RULES` names, for every endpoint of the application, the rule that decides who
reaches it; ``tests/test_policy_matrix.py`` walks ``app.url_map`` against it (a route without
a rule fails the suite), using :func:`route_allows`.

What the statistics and the OGC API reveal (see the README, "Accounts, sessions and
hardening"):

- every signed-in user reads every commune's **counts and areas** (tables, CSV, GeoJSON of the
  commune table, ``/api/v1/stats/communes/<nis>``);
- a representative counts another commune's reports in the counted statuses only
  (:func:`figures_scope`): its drafts, rejected, withdrawn and resolved reports are not
  revealed, not even as a number (live figures leave them out; the stored status breakdown
  is emptied of them);
- the **white-zone and line unions** of a commune (``geometry=1``, the commune sheet) are drawn
  from unvalidated reports too: a representative gets them for their own commune only
  (``forbidden`` 403 otherwise), the referent and admins for every commune;
- report **locations** (``/api/v1/stats/locations``) are for the referent and admins;
- in the OGC API, anonymous readers get confirmed white zones (:data:`PUBLIC_STATUSES`:
  validated, transmitted, not resolved) without descriptions; a
  signed-in representative reads descriptions of their own commune's reports only;
- the **reporter's identity** (e-mail) is shown to the referent and admins only, and never
  leaves in exports or the OGC API.
"""

from __future__ import annotations

from typing import Protocol

from geosignal import workflow
from geosignal.errors import GeosignalError


class Actor(Protocol):
    """What the policy reads of a user: ``role`` and, for a representative, ``commune_nis``."""

    role: str
    commune_nis: str | None


#: Roles that read and moderate every commune.
ALL_COMMUNES_ROLES = ("referent", "admin")


def _signed_in(user: Actor | None) -> bool:
    return user is not None and getattr(user, "is_authenticated", True) and bool(getattr(user, "role", None))


def sees_all_communes(user: Actor | None) -> bool:
    """Whether ``user`` reads every commune's reports (referent, admin)."""
    return _signed_in(user) and user.role in ALL_COMMUNES_ROLES  # type: ignore[union-attr]


def is_own_commune(user: Actor | None, nis: str | None) -> bool:
    """Whether ``user`` is the representative of the commune of NIS code ``nis``."""
    return _signed_in(user) and user.role == "representative" and nis is not None \
        and user.commune_nis == nis  # type: ignore[union-attr]


def may_read_report(user: Actor | None, nis: str) -> bool:
    """Whether ``user`` reads a report (any status) of commune ``nis``: its representative,
    the referent, admins. Others get ``not_found`` (its existence is not revealed)."""
    return sees_all_communes(user) or is_own_commune(user, nis)


def figures_scope(user: Actor | None) -> str | None:
    """Whose reports count, outside the counted statuses, in the figures ``user`` reads
    (:meth:`geosignal.services.aggregation.StatsFilters.scoped`): a representative's own
    commune (NIS code) — another commune's draft, rejected, withdrawn or resolved report is
    that commune's business, its existence not revealed (:func:`may_read_report`), in counts,
    the status breakdown, areas and drawings alike; None for the referent and admins (every
    commune's)."""
    if sees_all_communes(user):
        return None
    return getattr(user, "commune_nis", None) or ""


def may_file_reports(user: Actor | None) -> bool:
    """Whether ``user`` files reports at all (representatives and admins; the referent reads)."""
    return _signed_in(user) and user.role in ("representative", "admin")  # type: ignore[union-attr]


#: Statuses of the white zones everyone reads (the OGC API's ``white-zones`` for anonymous
#: readers and representatives): confirmed by the referent and still white — validated, then
#: forwarded to DWconnect (``transmitted``), or forwarded and not resolved by the operator
#: (``not_resolved``). A resolved report is no white zone any more; rejected and withdrawn
#: ones never were (or no longer are) confirmed; the others await the referent's decision.
PUBLIC_STATUSES = ("validated", "transmitted", "not_resolved")

#: Statuses whose report its commune may copy into a new one (the map form filled with its
#: shape and information): no action is open on them any more.
COPYABLE_STATUSES = ("rejected", "withdrawn")


def may_copy_report(user: Actor | None, nis: str, status: str) -> bool:
    """Whether ``user`` may file a new report from a copy of a report of commune ``nis`` in
    ``status`` (a rejected report, corrected and sent again): one who files reports there."""
    return status in COPYABLE_STATUSES and may_file_reports(user) and may_write_in_commune(user, nis)


def may_write_in_commune(user: Actor | None, nis: str) -> bool:
    """Whether ``user`` files a report whose zone lies mainly in commune ``nis``: its
    representative, or an admin."""
    return _signed_in(user) and (user.role == "admin" or is_own_commune(user, nis))  # type: ignore[union-attr]


def workflow_role(user: Actor | None, nis: str | None) -> str | None:
    """Return the role ``user`` plays in the transition table on a report of commune ``nis``
    (:func:`geosignal.workflow.role_in`): ``referent``, ``admin``, ``representative`` (own
    commune only) or None."""
    if not _signed_in(user):
        return None
    return workflow.role_in(user.role, own_commune=is_own_commune(user, nis))  # type: ignore[union-attr]


def may_transition(user: Actor | None, nis: str | None, source: str, target: str) -> bool:
    """Whether ``user`` moves a report of commune ``nis`` from status ``source`` to ``target``:
    the table (:data:`geosignal.workflow.TRANSITIONS`) has that move and names the user's
    role on the report (:func:`workflow_role`)."""
    transition = workflow.find(source, target)
    role = workflow_role(user, nis)
    return transition is not None and role is not None and role in transition.roles


def allowed_transitions(user: Actor | None, nis: str | None, source: str) -> list[workflow.Transition]:
    """Return the transitions ``user`` may take on a report of commune ``nis`` in status
    ``source``, in table order (what the report page shows as buttons)."""
    role = workflow_role(user, nis)
    return [t for t in workflow.from_status(source) if role is not None and role in t.roles]


def may_set_status(user: Actor | None, nis: str, status: str, *, source: str = "submitted") -> bool:
    """Whether ``user`` moves a report of commune ``nis`` from ``source`` (default
    ``submitted``) to ``status``: :func:`may_transition`, kept for older callers."""
    return may_transition(user, nis, source, status)


def may_edit_report(user: Actor | None, nis: str, status: str) -> bool:
    """Whether ``user`` edits the geometry and attributes of a report of commune ``nis`` in
    ``status``: its commune's representative or an admin, while the status is one of
    :data:`geosignal.workflow.EDITABLE_STATUSES`."""
    return status in workflow.EDITABLE_STATUSES and may_write_in_commune(user, nis)


def may_read_audit(user: Actor | None) -> bool:
    """Whether ``user`` reads the whole audit journal: the referent and admins, who read every
    report's history with its names already (:func:`sees_all_communes`); a report's own history
    is :func:`may_read_report`."""
    return sees_all_communes(user)


def may_read_readiness_details(user: Actor | None, *, from_loopback: bool) -> bool:
    """Whether ``/readyz`` shows ``user`` its checks' details (PostGIS's version, the schema's
    alembic revision, the CRS distances): the referent and admins, or a request from the
    machine itself (``from_loopback``: the operator's ``curl``, a local health check). Everyone
    else gets the status code and ``ready`` only."""
    return from_loopback or sees_all_communes(user)


def may_add_evidence(user: Actor | None, nis: str) -> bool:
    """Whether ``user`` adds evidence (speed tests, photos) to a report of commune ``nis``: its
    representatives and admins (the referent reads it)."""
    return may_write_in_commune(user, nis)


def may_export(user: Actor | None) -> bool:
    """Whether ``user`` runs and reads DWconnect exports (referent, admin)."""
    return sees_all_communes(user)


def may_import_survey(user: Actor | None) -> bool:
    """Whether ``user`` imports the communes' answers to the "Territoire intelligent" survey
    (referent, admin)."""
    return sees_all_communes(user)


def may_use_dashboard(user: Actor | None) -> bool:
    """Whether ``user`` opens the referent's dashboard and report locations (referent, admin)."""
    return sees_all_communes(user)


def may_manage_users(user: Actor | None) -> bool:
    """Whether ``user`` opens the accounts page (referent, admin); what they may do there is
    :func:`may_invite`, :func:`may_deactivate` and :func:`may_reactivate`."""
    return sees_all_communes(user)


def may_invite(inviter: Actor | None, role: str) -> bool:
    """Admins invite any role; the referent invites representatives."""
    if not _signed_in(inviter):
        return False
    return inviter.role == "admin" or (inviter.role == "referent" and role == "representative")  # type: ignore[union-attr]


def may_deactivate(actor: Actor | None, user: Actor) -> bool:
    """The operator at the terminal (``actor`` None) and admins deactivate anybody but
    themselves; the referent deactivates representatives."""
    if actor is None:
        return True
    return getattr(user, "id", None) != getattr(actor, "id", None) and (
        actor.role == "admin" or (actor.role == "referent" and user.role == "representative"))


def may_reactivate(actor: Actor | None, user: Actor) -> bool:
    """The operator at the terminal (``actor`` None) and admins reactivate a deactivated
    account, never their own; the referent, who deactivates representatives, asks an admin
    (the account comes back with its role and commune, and a new invitation link)."""
    if actor is None:
        return True
    return getattr(user, "id", None) != getattr(actor, "id", None) and actor.role == "admin"


def may_send_reset_link(actor: Actor | None, user: Actor) -> bool:
    """Whether ``actor`` issues ``user`` a link to choose a new password (a person locked out,
    or on a service without e-mail): whoever manages the account (:func:`may_deactivate`),
    never for their own."""
    return may_deactivate(actor, user)


def may_manage_token(actor: Actor | None, owner_id: int) -> bool:
    """Whether ``actor`` lists or revokes a token of user ``owner_id``: its owner, admins,
    and the operator at the terminal (``actor`` None)."""
    return actor is None or actor.role == "admin" or getattr(actor, "id", None) == owner_id


def may_read_import(user: Actor | None, owner_id: int) -> bool:
    """Whether ``user`` reads an import job started by user ``owner_id``: its owner, admins."""
    return _signed_in(user) and (user.role == "admin" or getattr(user, "id", None) == owner_id)  # type: ignore[union-attr]


def may_read_description(user: Actor | None, nis: str) -> bool:
    """Whether ``user`` reads the free-text description of a report of commune ``nis``."""
    return may_read_report(user, nis)


def may_see_reporter(user: Actor | None, nis: str) -> bool:
    """Whether ``user`` sees who filed a report of commune ``nis`` (referent, admin)."""
    return sees_all_communes(user)


def may_see_commune_geometry(user: Actor | None, nis: str) -> bool:
    """Whether ``user`` reads the white-zone and line unions of commune ``nis`` (drawn from
    unvalidated reports too): its representative, the referent, admins. Everyone signed in
    reads every commune's counts and areas."""
    return may_read_report(user, nis)


def may_see_commune_map(user: Actor | None, nis: str) -> bool:
    """Whether ``user`` opens the map or printable sheet of commune ``nis``."""
    return may_read_report(user, nis)


def require_signed_in(user: Actor | None) -> Actor:
    """Return ``user``; ``unauthorized`` (401) when nobody is signed in."""
    if not _signed_in(user):
        raise GeosignalError("unauthorized", "sign in, or send Authorization: Bearer <token>")
    return user  # type: ignore[return-value]


def require(allowed: bool, detail: str) -> None:
    """Raise ``forbidden`` (403) with ``detail`` unless ``allowed``."""
    if not allowed:
        raise GeosignalError("forbidden", detail)


# ---- routes -----------------------------------------------------------------------------

#: Route rules: who reaches an endpoint, given the commune of the resource it names.
#: ``public`` anyone; ``signed_in`` any signed-in user (per-owner resources such as tokens and
#: import jobs are then checked by their service and answer 404 to others); ``report`` the
#: report's commune (:func:`may_read_report`); ``status`` a status change
#: (:func:`may_read_report`, then :func:`may_transition`); ``edit`` an edit of the report
#: (:func:`may_edit_report`); ``journal`` the audit journal (:func:`may_read_audit`); ``file_reports``
#: (:func:`may_file_reports`; the commune is the zone's, checked on intake);
#: ``commune_geometry`` (:func:`may_see_commune_geometry`); ``all_communes``
#: (:func:`sees_all_communes`: exports, dashboard, locations, accounts page); ``evidence``
#: adding evidence to a report (:func:`may_read_report`, then :func:`may_add_evidence`).
RULES = ("public", "signed_in", "report", "status", "edit", "file_reports", "commune_geometry", "all_communes",
         "journal", "evidence")

#: endpoint → rule name, for every endpoint of the application (a test checks the URL map).
ROUTE_RULES: dict[str, str] = {
    # open data, documentation, health, sign-in and account links
    "static": "public",
    "vendor.vendor_file": "public",
    "vendor.vendor_image": "public",
    "pages.favicon": "public",
    "pages.index": "public",
    "pages.login": "public",
    "pages.logout": "public",
    "health.healthz": "public",
    "health.readyz": "public",
    "api.list_communes": "public",
    "exports.export_schema": "public",
    "ogc.landing": "public",
    "ogc.conformance": "public",
    "ogc.collections": "public",
    "ogc.collection": "public",
    "ogc.items": "public",  # anonymous: confirmed white zones (PUBLIC_STATUSES), no descriptions
    "ogc.item": "public",
    "ogc.openapi_json": "public",
    "ogc.api_docs": "public",
    "account.accept_invitation": "public",  # the single-use link is the credential
    "account.forgot_password": "public",
    "account.reset_password": "public",
    "i18n.set_language": "public",  # a cookie; the signed-in user's preference too
    "i18n.catalogue": "public",  # the scripts' texts, per language
    # any signed-in user
    "api.list_reports": "signed_in",  # filtered to what the user may read
    "stats.communes": "signed_in",
    "stats.communes_csv": "signed_in",
    "stats.communes_geojson": "signed_in",
    "stats.survey": "signed_in",
    "locate.limits": "signed_in",
    "locate.read_coordinates": "signed_in",
    "locate.geocode": "signed_in",
    "pages.commune_map": "signed_in",  # a representative sees their own commune's map
    "pages.my_reports": "signed_in",
    "account.account_page": "signed_in",
    "account.change_password": "signed_in",
    "account.tokens_page": "signed_in",
    "account.revoke_token": "signed_in",  # own tokens (admins: anybody's), else 404
    "imports.get_import": "signed_in",  # own jobs (admins: anybody's), else 404
    # one report
    "api.get_report": "report",
    "api.patch_report": "status",
    "api.post_transition": "status",
    "api.report_history": "report",
    "report_pages.report_page": "report",
    "report_pages.post_action": "status",
    "report_pages.edit_page": "edit",
    "report_pages.save_edit": "edit",
    # the audit journal (referent, admins)
    "api.audit_log": "journal",
    "report_pages.journal_page": "journal",
    "pages.change_status": "status",
    # filing reports
    "api.post_report": "file_reports",
    "pages.submit_report": "file_reports",
    "imports.post_import": "file_reports",
    "imports.upload_page": "file_reports",  # the referent reads reports: no upload page
    "imports.template_file": "file_reports",  # the upload page's template CSV
    # one commune's geometry
    "stats.commune": "signed_in",  # counts and areas for all; geometry=1 is commune_geometry
    "pages.commune_sheet": "commune_geometry",
    "pages.commune_sheet_pdf": "commune_geometry",
    # the referent and admins
    "stats.locations": "all_communes",
    "pages.dashboard": "all_communes",
    "pages.import_survey": "all_communes",
    "stats.import_survey": "all_communes",
    "exports.export_dwconnect": "all_communes",
    "exports.export_dwconnect_csv": "all_communes",
    "exports.export_dwconnect_gpkg": "all_communes",
    "exports.list_runs": "all_communes",
    "exports.get_run": "all_communes",
    "exports.download_run": "all_communes",
    "exports.history_page": "all_communes",
    "exports.history_fragment": "all_communes",
    "account.users_page": "all_communes",
    "account.invite_user": "all_communes",  # then may_invite(role)
    "account.deactivate_user": "all_communes",  # then may_deactivate(user)
    "account.reactivate_user": "all_communes",  # then may_reactivate(user): admins
    "account.send_reset_link": "all_communes",  # then may_send_reset_link(user)
    # zones of overlapping reports
    "zones.list_zones": "signed_in",  # a representative: their commune's zones
    "zones.get_zone": "signed_in",  # idem, else 404
    "zones.confirm_zone": "all_communes",
    "zones.split_zone": "all_communes",
    "zones.join_zones": "all_communes",
    "zones.add_to_zone": "all_communes",
    # evidence (speed tests, photos) and e-mail preferences
    "evidence.list_evidence": "report",
    "evidence.post_speed_test": "evidence",
    "evidence.post_photo": "evidence",
    "evidence.photo": "report",
    "evidence.add_speed_test_form": "evidence",
    "evidence.add_photo_form": "evidence",
    "notifications.preferences": "signed_in",
    "notifications.unsubscribe": "public",  # the link's token names the account (no session, no CSRF)
    # the validation queue and exports marked as sent (the referent and admins)
    "queue.queue_page": "all_communes",
    "queue.queue_api": "all_communes",
    "queue.bulk_transition": "all_communes",
    "zone_pages.zones_page": "all_communes",
    "zone_pages.confirm_zone": "all_communes",
    "zone_pages.split_zone": "all_communes",  # then each report's transition (the table)
    "zone_pages.join_zones": "all_communes",
    "zone_pages.add_to_zone": "all_communes",
    "exports.mark_transmitted_api": "all_communes",
    "exports.mark_transmitted_page": "all_communes",
}


#: Endpoints a bearer token does not reach, whoever owns it: those that make, change or end
#: credentials and accounts (a password, API tokens, invitations, reset links, deactivations,
#: reactivations).
#: A token is for reading and filing data; with these, a stolen token minted a 365-day token
#: that outlived its own revocation, and a referent's token made reset links to take over
#: representatives' accounts. They answer a token 403 ``forbidden``; the session reaches them.
SESSION_ONLY: frozenset[str] = frozenset({
    "account.change_password",
    "account.tokens_page",
    "account.revoke_token",
    "account.users_page",
    "account.invite_user",
    "account.deactivate_user",
    "account.reactivate_user",
    "account.send_reset_link",
    # signing out ends every session of the account, and the e-mail preferences silence the
    # status-change notices: a token taken would keep its owner out and unwarned
    "pages.logout",
    "notifications.preferences",
})


#: Endpoints whose writes carry no CSRF token: the one-click unsubscribe (RFC 8058), which a
#: mail system POSTs without any session or form. The link's own token (an HMAC naming the
#: account, for unsubscribing only) is what authorises it; it only stops e-mails.
CSRF_EXEMPT: frozenset[str] = frozenset({"notifications.unsubscribe"})

#: Endpoints whose CSRF token is good however old it is, as long as the session lasts (still
#: signed by geosignal, and this session's own): signing out. Flask-WTF's tokens expire after
#: an hour, and a sign-out clicked on a page left open longer was refused while the session
#: stayed alive (on a shared computer, the next person found it signed in).
CSRF_ANY_AGE: frozenset[str] = frozenset({"pages.logout"})


#: The route rules that depend on the user alone (no resource to read first), with what a
#: refusal says: :func:`geosignal.auth.init_app` applies them before any view runs, so that no
#: view of such an endpoint renders anything for a user it refuses.
USER_RULES: dict[str, str] = {
    "all_communes": "this is for the referent and admins",
    "journal": "the audit journal is for the referent and admins",
    "file_reports": "reports are filed by the communes' representatives (the referent reads them)",
}


def refusal_before_view(endpoint: str | None, user: Actor | None) -> str | None:
    """What refuses a signed-in ``user`` the endpoint ``endpoint`` whatever the resource (the
    detail of a ``forbidden`` 403: :data:`USER_RULES`), or None when its rule lets them
    through or depends on a resource (the view decides) or nobody is signed in (the view asks
    them to sign in)."""
    rule = ROUTE_RULES.get(endpoint or "")
    if rule not in USER_RULES or not _signed_in(user) or route_allows(rule, user, ""):
        return None
    return USER_RULES[rule]


def token_reaches(endpoint: str | None) -> bool:
    """Whether a request authenticated by a bearer token may reach ``endpoint`` (every one but
    :data:`SESSION_ONLY`)."""
    return endpoint not in SESSION_ONLY


def route_allows(rule: str, user: Actor | None, nis: str, *, status: str = "withdrawn",
                 source: str = "submitted") -> bool:
    """Whether ``rule`` (:data:`RULES`) lets ``user`` (None: anonymous) reach a route whose
    resource belongs to commune ``nis`` (for ``status``: moving it from ``source`` to
    ``status``; for ``edit``: editing it in ``source``)."""
    if rule == "public":
        return True
    if rule == "signed_in":
        return _signed_in(user)
    if rule == "report":
        return may_read_report(user, nis)
    if rule == "status":
        return may_read_report(user, nis) and may_transition(user, nis, source, status)
    if rule == "edit":
        return may_read_report(user, nis) and may_edit_report(user, nis, source)
    if rule == "journal":
        return may_read_audit(user)
    if rule == "file_reports":
        return may_file_reports(user)
    if rule == "commune_geometry":
        return may_see_commune_geometry(user, nis)
    if rule == "all_communes":
        return sees_all_communes(user)
    if rule == "evidence":
        return may_read_report(user, nis) and may_add_evidence(user, nis)
    raise ValueError(f"unknown route rule {rule!r}")
