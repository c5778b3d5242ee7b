"""The application's JSON provider: request bodies read as every JSON entry point reads them."""

from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider

from geosignal.textsafety import check_json_text, strict_pairs


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies (``request.get_json``) as :func:`geosignal.services.
    intake.loads_strict` does: a member name twice in one object, or an unpaired UTF-16
    surrogate, is refused with 400 ``invalid_json`` and its pointer (:mod:`geosignal.textsafety`)
    instead of a value chosen silently or a 500 when the text is stored."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s`` (UTF-8 bytes or text). Raises :class:`~geosignal.errors.GeosignalError`
        (not a ``ValueError``: ``get_json(silent=True)`` does not turn it into None)."""
        text = s.decode("utf-8") if isinstance(s, (bytes, bytearray)) else s
        hook, repeated = strict_pairs()
        obj = json.loads(text, object_pairs_hook=hook, **kwargs)
        check_json_text(text, obj, duplicates=bool(repeated))
        return obj
