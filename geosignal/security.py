"""Response hardening shared by every route, and the service's public address.

- ``Cache-Control: no-store`` on every response to an authenticated request (session cookie
  or bearer token), so that no proxy or browser cache keeps a commune's data, and on the
  pages that show a single-use link's secret or an address without a sign-in
  (:data:`PRIVATE_WITHOUT_SIGN_IN`), except open data (:data:`PUBLIC_DATA`);
- ``Strict-Transport-Security`` when the service is published over HTTPS
  (``GEOSIGNAL_PUBLIC_BASE_URL`` starting with ``https://``);
- :func:`public_base_url`: absolute links (OGC API, e-mails) are built from the configured
  public base URL, never from the request's ``Host`` header when one is configured; when none
  is, a response whose links were built from ``Host`` carries ``Vary: Host`` (a shared cache
  keeps one copy per host, never serving links to ``evil.example`` to other readers);
- ``Vary`` is added to, never overwritten (:func:`add_vary`).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request, session

#: One year, the usual HSTS lifetime.
HSTS = "max-age=31536000; includeSubDomains"


def public_base_url() -> str:
    """Return the service's public base URL without a trailing slash (e.g.
    ``https://geosignal.example.be``): ``PUBLIC_BASE_URL`` when configured, else the address
    the request came to (development)."""
    configured = current_app.config.get("PUBLIC_BASE_URL") or ""
    if configured:
        return configured.rstrip("/")
    g.links_from_host = True  # the answer depends on the Host header: it says so (Vary: Host)
    return request.host_url.rstrip("/")


def add_vary(response: Response, *names: str) -> None:
    """Add ``names`` to ``response``'s ``Vary`` header, keeping what it already says (each
    name once, case-insensitively; ``*`` stays ``*``), as one header: Flask-Compress reads only
    the first ``Vary`` header and rewrites it with ``Accept-Encoding``, so a second one would
    be lost."""
    present = [v.strip() for header in response.headers.getlist("Vary") for v in header.split(",") if v.strip()]
    if "*" in present:
        response.headers["Vary"] = "*"
        return
    known = {v.lower() for v in present}
    present += [n for n in names if n.lower() not in known]
    response.headers["Vary"] = ", ".join(present)


#: Pages answered to visitors who are not signed in that still show private things: a
#: single-use link's secret and its account's address (invitation, reset: the secret is in
#: the form), the address just given a password (the sign-in form filled in), an e-mail's
#: unsubscribe link (its token in the form, the account's address). They are never stored
#: either (a shared computer's cache, a proxy kept them, the secret still unused).
PRIVATE_WITHOUT_SIGN_IN = frozenset({"account.reset_password", "account.accept_invitation", "pages.login",
                                     "notifications.unsubscribe"})
#: Open data, the same for everybody, kept by a browser even when signed in and revalidated
#: (its view answers with an ETag and ``Cache-Control: no-cache``): the communes' boundaries,
#: fetched by the queue and the zones pages at every visit (3.5 MB with the 581 Belgian communes).
PUBLIC_DATA = frozenset({"api.list_communes"})


def _carries_credentials() -> bool:
    """Whether the request came with a session of a signed-in user or a bearer token (read
    without touching the database, so that it also holds when the database is down)."""
    return "_user_id" in session or request.headers.get("Authorization", "").lower().startswith("bearer ")


def init_app(app: Flask) -> None:
    """Set the session cookie's flags (``HttpOnly``, ``SameSite=Lax``, ``Secure`` when
    published over HTTPS or ``SESSION_COOKIE_SECURE`` is set) and register the response
    headers above."""
    https = (app.config.get("PUBLIC_BASE_URL") or "").startswith("https://")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE")) or https
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]

    @app.after_request
    def _harden(response: Response) -> Response:
        if request.endpoint in PRIVATE_WITHOUT_SIGN_IN or (
                not (request.endpoint or "").startswith(("static", "vendor.")) and request.endpoint not in PUBLIC_DATA
                and _carries_credentials()):
            response.headers["Cache-Control"] = "no-store"
            add_vary(response, "Cookie", "Authorization")
        if g.get("links_from_host"):  # absolute links built from the request's Host (no PUBLIC_BASE_URL)
            add_vary(response, "Host")
        if g.get("negotiated"):  # HTML or JSON chosen by Accept (the OGC API, an error's answer)
            add_vary(response, "Accept")
        if g.get("language_negotiated"):  # written in the language a cookie or Accept-Language chose
            add_vary(response, "Cookie", "Accept-Language")
        if (app.config.get("PUBLIC_BASE_URL") or "").startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
