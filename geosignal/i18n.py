"""Languages of the pages: French by default, then Dutch and English (Flask-Babel).

Strings are marked with ``gettext``/``_`` (templates and Python) and translated from the
catalogues in ``geosignal/translations`` (see the README for the ``pybabel`` commands).
The language is the user's preference, then the browser's ``Accept-Language``, then French.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import Babel

if TYPE_CHECKING:
    from flask import Flask

#: Languages offered, the first is the default.
LANGUAGES: tuple[str, ...] = ("fr", "nl", "en")
DEFAULT_LANGUAGE = LANGUAGES[0]


def select_locale() -> str:
    """Return the language of the current request: ``fr``, ``nl`` or ``en``."""
    from flask import request
    from flask_login import current_user

    preferred = getattr(current_user, "locale", None) if current_user else None
    if preferred in LANGUAGES:
        return preferred
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    """Attach Flask-Babel to ``app`` (``_``, ``gettext`` and ``ngettext`` in templates)."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Brussels")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale)
