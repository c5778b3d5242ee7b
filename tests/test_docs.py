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


def test_the_integrators_error_table_names_real_codes_with_their_status() -> None:
    """docs/dwconnect.md lists the codes an export client meets: each one geosignal emits, with
    the status it has."""
    text = (ROOT / "docs" / "dwconnect.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", text, flags=re.M)
    assert [code for _, code in rows] == [
        "invalid_request", "unauthorized", "forbidden", "password_change_required", "not_found",
        "method_not_allowed", "copy_purged", "unknown_commune", "rate_limited", "service_unavailable"]
    assert all(int(status) == ERROR_CODES[code][0] for status, code in rows)
