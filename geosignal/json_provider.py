"""The application's JSON provider: request bodies read as every JSON entry point reads them."""

from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider

from geosignal.errors import GeosignalError
from geosignal.textsafety import check_json_text, strict_pairs


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies (``request.get_json``) as :func:`geosignal.services.
    intake.loads_strict` does: a member name twice in one object, or an unpaired UTF-16
    surrogate, is refused with 400 ``invalid_json`` and its pointer (:mod:`geosignal.textsafety`)
    instead of a value chosen silently or a 500 when the text is stored."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s`` (UTF-8 bytes or text). Raises :class:`~geosignal.errors.GeosignalError`
        400 ``invalid_json`` for a duplicate member, a lone surrogate or nesting too deep for
        Python's parser (not a ``ValueError``: ``get_json(silent=True)`` does not turn it into
        None); ``ValueError`` for text that is not JSON."""
        text = s.decode("utf-8") if isinstance(s, (bytes, bytearray)) else s
        hook, repeated = strict_pairs()
        try:
            obj = json.loads(text, object_pairs_hook=hook, **kwargs)
            check_json_text(text, obj, duplicates=bool(repeated))
        except RecursionError:  # neither a ValueError nor a GeosignalError: it was a 500
            raise GeosignalError("invalid_json", "The JSON is nested too deeply.") from None
        return obj
