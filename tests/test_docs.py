"""The error-code catalogue in docs/error-codes.md lists exactly the codes geosignal emits."""

from __future__ import annotations

import re

from geosignal.errors import ERROR_CODES
from tests.conftest import ROOT


def test_error_catalogue_matches_the_code() -> None:
    text = (ROOT / "docs" / "error-codes.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", text, flags=re.M)
    assert rows == [(code, str(status)) for code, (status, _) in ERROR_CODES.items()]


def test_every_code_has_a_french_title() -> None:
    from geosignal.errors import TITLES_FR

    assert set(TITLES_FR) == set(ERROR_CODES)
