"""The readers of forms and query strings (:mod:`geosignal.formparse`): ASCII digits only and
bounded, decimal numbers as people type them, flags from a documented set of words, text with
something visible, e-mail addresses, and where ``next`` may lead."""

from __future__ import annotations

import pytest

from geosignal.errors import GeosignalError
from geosignal.formparse import (
    decimal_number,
    email_problem,
    flag,
    form_date,
    safe_next,
    visible,
    whole_number,
)


@pytest.mark.parametrize("raw", ["²", "³", "١٢", "1_0", "+1", "-1", " 1 2", "1.0", "9" * 5000, "9" * 19, ""])
def test_whole_numbers_are_ascii_digits_and_bounded(raw: str) -> None:
    assert whole_number(raw) is None


def test_whole_numbers_read() -> None:
    assert whole_number("0") == 0 and whole_number(" 42 ") == 42 and whole_number("0" * 40 + "7") == 7


@pytest.mark.parametrize(("raw", "value"), [("12,5", 12.5), ("−105", -105.0), ("-20", -20.0), ("1 000", 1000.0),
                                            ("1\u202f000,5", 1000.5)])
def test_decimal_numbers_as_people_type_them(raw: str, value: float) -> None:
    assert decimal_number(raw) == value


@pytest.mark.parametrize("raw", ["NaN", "inf", "1e3", "1_0", "²", "--1", "1.2.3", "9" * 19, "0x10"])
def test_decimal_numbers_refused(raw: str) -> None:
    assert decimal_number(raw) is None


@pytest.mark.parametrize(("raw", "iso"), [
    ("31/03/2024", "2024-03-31"), ("1.3.2024", "2024-03-01"), ("31-03-2024", "2024-03-31"), ("15/01/25", "2025-01-15"),
    ("31/03/2024 14:30", "2024-03-31T14:30"), ("31/03/2024 9h05", "2024-03-31T09:05"),
    ("31/03/2024 14:30:15", "2024-03-31T14:30:15"), (" 2024-03-31 ", "2024-03-31"),
    ("2024-03-31T14:30", "2024-03-31T14:30"), ("31/02/2024", "2024-02-31"), ("٣١/٠٣/٢٠٢٤", "٣١/٠٣/٢٠٢٤"),
    ("garbage", "garbage"), (" ", None), (None, None)])
def test_form_dates_are_read_day_first_as_belgians_write_them(raw: str | None, iso: str | None) -> None:
    """A date typed day first is given on as ISO text (a day that does not exist too: intake
    refuses it); anything else as typed, for intake to read or refuse."""
    assert form_date(raw) == iso


def test_flags_take_only_the_documented_words() -> None:
    for word, value in [("true", True), ("ON", True), ("1", True), ("yes", True), ("off", False), ("0", False),
                        ("No", False), ("false", False), ("", False), (None, False)]:
        assert flag(word, where="x") is value
    for word in ("maybe", "2", "y", "n", "vrai", "1.0"):
        with pytest.raises(GeosignalError) as caught:
            flag(word, where="dry_run")
        assert caught.value.code == "invalid_request" and caught.value.where == "dry_run"


def test_visible_text() -> None:
    assert not visible("\u200b\u200b") and not visible(" \u2060\ufeff\n\u00a0") and visible("\u200bok")


@pytest.mark.parametrize("address", ["@", "a@", "@x.be", "a@b", "a@@x.be", "a b@x.be", "a@x.be\nbcc: v@y.be",
                                     "<script>alert(1)</script>@x.be", "ab\u202emoc.live@x.be", "a\x07b@x.be",
                                     "é@x.be", "a@x..be", "a@-x.be", "a.@x.be", "a@x.b3", "b" * 300 + "@x.be"])
def test_email_rule_refuses(address: str) -> None:
    assert email_problem(address) is not None


def test_email_rule_accepts() -> None:
    for address in ("echevin@charleroi.be", "prenom.nom+geo@igretec.com", "o'brien@x.be", "a@xn--bcher-kva.be"):
        assert email_problem(address) is None


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\\evil.example",
                                    "/\\/evil.example", "//evil.example", "https://evil.example", " /x",
                                    "/ /evil.example", "javascript:alert(1)", "/x\x00", ""])
def test_safe_next_refuses(target: str) -> None:
    assert safe_next(target) is None


def test_safe_next_keeps_paths() -> None:
    assert safe_next("/signalements?retires=1") == "/signalements?retires=1"
    assert safe_next("/carte?commune=52011#x") == "/carte?commune=52011#x"
