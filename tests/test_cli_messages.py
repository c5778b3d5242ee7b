"""The command line's summaries read as English: one report, two reports; a listing that
finds nothing says so instead of printing nothing."""

from __future__ import annotations

import pytest

from geosignal.cli import _n
from geosignal.services.users import create_user


@pytest.mark.parametrize(("count", "text"), [(0, "0 reports"), (1, "1 report"), (2, "2 reports")])
def test_counts_are_singular_for_one_only(count: int, text: str) -> None:
    assert _n(count, "report") == text
    assert _n(1, "job worker") == "1 job worker" and _n(2, "web worker") == "2 web workers"


def test_list_tokens_says_when_a_user_has_none(app, db) -> None:  # noqa: ANN001
    create_user(db, "sans-jeton@charleroi.be", "representative", "52011", "une phrase de passe assez longue 7")
    db.flush()
    listing = app.test_cli_runner().invoke(args=["list-tokens", "sans-jeton@charleroi.be"])
    assert listing.exit_code == 0, listing.output
    assert listing.output.strip() == "no tokens for sans-jeton@charleroi.be"
