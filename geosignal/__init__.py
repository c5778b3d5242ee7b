"""geosignal: report, aggregate and forward connectivity white zones (Charleroi Métropole).

Use :func:`create_app` to build the Flask application; nothing is created at import time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from geosignal.config import ROOT, load_config

if TYPE_CHECKING:  # Flask is imported when an app is built, not by scripts using the services
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None, *, serving: bool = True) -> Flask:
    """Build the application: config → extensions → blueprints → error handlers → CLI.

    ``test_config`` overrides every other configuration source (tests pass theirs).
    ``serving``: the application answers requests (a WSGI server, ``geosignal serve``'s web
    workers); the command line builds it with ``False`` for its other commands, which then skip
    what only answering needs (the sign-in's dummy password hash: 0.1 s of CPU and 32 MB).
    """
    from flask import Flask

    app = Flask(
        __name__,
        instance_path=os.environ.get("GEOSIGNAL_INSTANCE_PATH", str(ROOT / "instance")),
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
    )
    from geosignal.json_provider import StrictJSONProvider

    app.json = StrictJSONProvider(app)
    app.config.update(load_config(app.instance_path, test_config))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_BYTES"] + 64 * 1024
    if app.config["TRUSTED_PROXIES"]:
        # the client address (sign-in and write limits, /readyz's loopback) and the scheme are
        # the ones the trusted proxies forwarded, the last N of X-Forwarded-For: a client's own
        # X-Forwarded-For in front of them is never read as its address
        from werkzeug.middleware.proxy_fix import ProxyFix

        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    from geosignal import (
        assets,
        auth,
        cli,
        compression,
        db,
        errors_web,
        formbody,
        i18n,
        params,
        ratelimit,
        security,
    )
    from geosignal.views import (
        account,
        api,
        evidence,
        exports,
        health,
        imports,
        locate,
        notifications,
        ogc,
        pages,
        queue,
        report_pages,
        stats,
        zone_pages,
        zones,
    )

    compression.init_app(app)  # first: its hook runs last
    db.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    assets.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)
    params.init_query_checks(app)
    formbody.init_app(app)  # (the CSRF check reads most forms first: refused there the same way)
    app.register_blueprint(api.bp)
    app.register_blueprint(locate.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(ogc.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(zones.bp)
    app.register_blueprint(report_pages.bp)
    app.register_blueprint(evidence.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(zone_pages.bp)
    errors_web.init_app(app)
    cli.register(app)
    if serving and not app.testing:
        # the sign-in's dummy password hash, made now rather than at the first sign-in naming
        # no account (whose answer would then take twice as long as a wrong password's)
        from geosignal.models.user import dummy_password_hash

        dummy_password_hash()
    return app
