"""The "Territoire intelligent : où en est votre commune ?" survey: import and indicators.

IGRETEC's Smart Region referent asks the communes of Charleroi Métropole, edition after
edition, how "smart" they think they are, why, what their priorities are, and a few yes/no
questions (smart actions in the PST, public procurement, cyber-security…). This module reads
the questionnaire's export (CSV or XLSX), one row per answering commune, into
:class:`SurveyResponse` objects and computes the report's indicators with **per-question
denominators**: a commune that left a question unanswered is left out of that question's
denominator only.

Editions for which only the published aggregates exist (2019) are carried as
:class:`PublishedIndicator` rows instead of responses.

Flask-free and database-free: the dataclasses map 1:1 to tables (list fields to a child table
or a PostgreSQL array). The column mapping lives in ``data/survey_mapping.json`` and is
documented in ``docs/survey.md``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from geosignal.errors import GeosignalError
from geosignal.services.intake.area import Limits

# --------------------------------------------------------------------------------------------
# Vocabularies (machine values; the French labels live in the mapping file)
# --------------------------------------------------------------------------------------------

#: Priority themes, the six pillars of IGRETEC's Smart Region support.
SURVEY_PRIORITIES: tuple[str, ...] = (
    "quality_of_life",
    "citizens",
    "environment_energy",
    "mobility",
    "governance",
    "economy",
)

#: Reasons a commune gives for its "smart" score.
SURVEY_REASONS: tuple[str, ...] = (
    "lack_of_staff",
    "lack_of_budget",
    "lack_of_expertise",
    "insufficient_connectivity",
    "no_strategy",
    "projects_under_way",
    "other",
)

#: Interest in a central purchasing body for smart projects (3 levels).
#: ``strongly`` = "Oui, fortement"; ``yes_not_priority`` = "Oui, mais pas en priorité";
#: ``no`` = "Non".
CENTRAL_PURCHASING_LEVELS: tuple[str, ...] = ("strongly", "yes_not_priority", "no")

#: NIS codes (Statbel REFNIS, post-2019 coding) of the 30 communes of Charleroi Métropole.
#: The default set of communes a survey row may name; pass ``known_nis`` to use another.
CHARLEROI_METROPOLE_NIS: frozenset[str] = frozenset(
    {
        "52074", "56001", "56005", "93010", "52010", "52011", "52012", "56016", "52015",
        "93014", "56022", "52018", "52021", "52022", "56029", "52025", "56086", "52075",
        "56044", "56049", "56051", "52048", "93056", "52055", "92137", "55085", "56088",
        "56078", "93090", "93088",
    }
)  # fmt: skip

UNIT_SCORE = "score/10"
UNIT_SHARE = "share"

#: The survey mapping shipped with geosignal.
DEFAULT_MAPPING_PATH: Path = Path(__file__).resolve().parents[2] / "data" / "survey_mapping.json"

_FIELD_TYPES = ("nis", "score", "yes_no", "choice", "multi")
_FIELD_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "reasons": SURVEY_REASONS,
    "priorities": SURVEY_PRIORITIES,
    "central_purchasing_interest": CENTRAL_PURCHASING_LEVELS,
}

# --------------------------------------------------------------------------------------------
# Data classes (one per future table)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyEdition:
    """One edition of the survey. ``published_only``: no per-commune answers exist, only the
    aggregates of the published report (:class:`PublishedIndicator`)."""

    year: int
    title: str
    source: str
    published_only: bool


@dataclass
class SurveyResponse:
    """One commune's answers to one edition.

    ``None`` (or an empty list for the multi-choice fields) means the commune did not answer
    that question; it is then excluded from that question's denominator only. Scores are
    integers 1–10. ``reasons`` and ``priorities`` hold values of :data:`SURVEY_REASONS` and
    :data:`SURVEY_PRIORITIES`; ``central_purchasing_interest`` one of
    :data:`CENTRAL_PURCHASING_LEVELS`. ``source_row`` is the spreadsheet row it came from
    (header = row 1), for traceability.
    """

    edition_year: int
    nis_code: str
    smart_score: int | None = None
    reasons: list[str] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)
    citizens_informed_score: int | None = None
    smart_actions_in_pst: bool | None = None
    intends_to_answer_call: bool | None = None
    citizens_involved: bool | None = None
    public_procurement_done: bool | None = None
    central_purchasing_interest: str | None = None
    cyber_ready: bool | None = None
    source_row: int | None = None


@dataclass(frozen=True)
class PublishedIndicator:
    """An aggregate as printed in a survey report (for editions without per-commune data).

    ``value`` is a mean for ``unit == "score/10"`` and a share 0–1 for ``unit == "share"``;
    ``denominator`` is the number of answering communes when the report gives it, else None.
    """

    edition_year: int
    indicator: str
    value: float
    unit: str
    denominator: int | None
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Indicator:
    """An indicator computed from responses.

    ``value == count / denominator`` always: for a score ``count`` is the sum of the scores
    given and ``value`` their mean (``unit == "score/10"``); for a share ``count`` is the number
    of communes with the property and ``value`` a share 0–1 (``unit == "share"``).
    ``denominator`` is the number of communes that answered the question (non-responses
    excluded); ``value`` is None when it is 0.
    """

    name: str
    value: float | None
    count: int
    denominator: int
    unit: str


# --------------------------------------------------------------------------------------------
# Editions and published aggregates
# --------------------------------------------------------------------------------------------

REPORT_2022_URL = (
    "https://territoire.charleroi-metropole.be/espace-ressources/documentation-et-inspiration/"
    "territoire-intelligent-intelligent-ou-e-nerritoire-intelligent-ou-en-est-votre-commune-"
    "edition-2022"
)

EDITIONS: dict[int, SurveyEdition] = {
    2019: SurveyEdition(
        year=2019,
        title="Territoire intelligent : où en est votre commune ? Édition 2019",
        source="2019 report: reference to be filled in",
        published_only=True,
    ),
    2022: SurveyEdition(
        year=2022,
        title="Territoire intelligent : où en est votre commune ? Édition 2022",
        source=REPORT_2022_URL,
        published_only=False,
    ),
}

#: Indicators whose 2019 value is still to be filled from the 2019 report. Nothing is invented:
#: add a :class:`PublishedIndicator` to :func:`published_2019` for each figure read there.
PUBLISHED_2019_TO_FILL: tuple[str, ...] = (
    "citizens_informed",
    *(f"priority_{p}" for p in SURVEY_PRIORITIES),
    "intends_to_answer_call",
    "citizens_involved",
    "public_procurement_done",
    "central_purchasing_strongly",
    "central_purchasing_yes_not_priority",
    "cyber_not_ready",
    "smart_actions_in_pst",
)


def published_2019() -> list[PublishedIndicator]:
    """Return the 2019 edition's published aggregates (no per-commune answers exist for 2019).

    Only the mean "smart" score is known so far: the 2022 report quotes 2.8/10 for 2019
    (respondent count not given). Every other 2019 figure is **to be filled from the 2019
    report** (see :data:`PUBLISHED_2019_TO_FILL`); none is made up here.
    """
    return [
        PublishedIndicator(
            edition_year=2019,
            indicator="smart_score",
            value=2.8,
            unit=UNIT_SCORE,
            denominator=None,
            source=REPORT_2022_URL,
            note="2019 mean as quoted in the 2022 report; 2019 respondent count unknown",
        ),
    ]


def published_2022() -> list[PublishedIndicator]:
    """Return the 2022 figures as printed in the 2022 report (14 answering communes of 30).

    Shares are the printed percentages / 100. The report prints mobility as 42 % for 6/14
    (42.9 %): the row keeps the printed value and says so in ``note``.
    """

    def share(name: str, printed_percent: int, note: str = "") -> PublishedIndicator:
        return PublishedIndicator(
            2022, name, printed_percent / 100, UNIT_SHARE, 14, REPORT_2022_URL, note
        )

    return [
        PublishedIndicator(2022, "smart_score", 4.4, UNIT_SCORE, 14, REPORT_2022_URL),
        PublishedIndicator(2022, "citizens_informed", 5.6, UNIT_SCORE, 14, REPORT_2022_URL),
        share("priority_quality_of_life", 71),
        share("priority_citizens", 57),
        share("priority_environment_energy", 50),
        share("priority_mobility", 42, "printed 42 %; 6/14 is 42.9 %"),
        share("priority_governance", 21),
        share("priority_economy", 14),
        share("intends_to_answer_call", 64),
        share("citizens_involved", 36),
        share("public_procurement_done", 21),
        share("central_purchasing_strongly", 50),
        share("central_purchasing_yes_not_priority", 36),
        share("cyber_not_ready", 64),
        share("smart_actions_in_pst", 100),
    ]


def published_indicators(edition_year: int) -> list[PublishedIndicator]:
    """Return the published aggregates of an edition (empty list when none are recorded)."""
    return {2019: published_2019, 2022: published_2022}.get(edition_year, list)()


# --------------------------------------------------------------------------------------------
# Mapping
# --------------------------------------------------------------------------------------------


_PUNCT_SPACES = re.compile(r"\s*([,;:?!()'/-])\s*")


def _norm(text: Any) -> str:
    """Normalise a header or label for matching: no accents, casefolded, ' for ’, single
    spaces, none around punctuation."""
    s = unicodedata.normalize("NFKD", str(text).replace("\u2019", "'").replace("\u00a0", " "))
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = " ".join(s.casefold().split())
    return _PUNCT_SPACES.sub(r"\1", s)  # "Oui , fortement" == "Oui, fortement"; "smart?"


@dataclass(frozen=True)
class FieldMapping:
    """How one :class:`SurveyResponse` field is read: accepted headers, type, choices."""

    field: str
    header: str
    headers: frozenset[str]  # normalised header and aliases
    type: str
    required: bool = False
    min: int | None = None
    max: int | None = None
    separator: str = ";"
    choices: Mapping[str, str] = field(default_factory=dict)  # normalised label -> value


@dataclass(frozen=True)
class SurveyMapping:
    """A validated column mapping (see ``data/survey_mapping.json``)."""

    fields: tuple[FieldMapping, ...]
    no_answer: frozenset[str]
    yes_no: Mapping[str, bool]


def load_mapping(source: str | Path | Mapping[str, Any] = DEFAULT_MAPPING_PATH) -> SurveyMapping:
    """Load and validate a survey column mapping.

    ``source`` is a path to a JSON file shaped like ``data/survey_mapping.json`` or the
    already-parsed dict. Raises ``ValueError`` when the mapping names an unknown field or type,
    or maps a choice to a value outside this module's vocabularies.
    """
    raw: Mapping[str, Any]
    if isinstance(source, Mapping):
        raw = source
    else:
        raw = json.loads(Path(source).read_text(encoding="utf-8"))
    response_fields = {f.name for f in fields(SurveyResponse)} - {"edition_year", "source_row"}
    out: list[FieldMapping] = []
    seen_headers: set[str] = set()
    for name, spec in raw["fields"].items():
        if name not in response_fields:
            raise ValueError(f"survey mapping: unknown field {name!r}")
        ftype = spec["type"]
        if ftype not in _FIELD_TYPES:
            raise ValueError(f"survey mapping: field {name!r} has unknown type {ftype!r}")
        headers = frozenset(_norm(h) for h in [spec["header"], *spec.get("aliases", [])])
        if headers & seen_headers:
            raise ValueError(f"survey mapping: field {name!r} reuses a header of another field")
        seen_headers |= headers
        choices = {_norm(k): v for k, v in spec.get("choices", {}).items()}
        vocab = _FIELD_VOCABULARIES.get(name)
        if ftype in ("choice", "multi"):
            bad = sorted(set(choices.values()) - set(vocab or ()))
            if not choices or bad:
                raise ValueError(f"survey mapping: field {name!r} has bad choices {bad}")
        out.append(
            FieldMapping(
                field=name,
                header=spec["header"],
                headers=headers,
                type=ftype,
                required=bool(spec.get("required", False)),
                min=spec.get("min"),
                max=spec.get("max"),
                separator=spec.get("separator", ";"),
                choices=choices,
            )
        )
    if not any(f.type == "nis" for f in out):
        raise ValueError("survey mapping: no field of type 'nis'")
    return SurveyMapping(
        fields=tuple(out),
        no_answer=frozenset(_norm(v) for v in raw.get("no_answer", [""])),
        yes_no={
            _norm(k): bool(v) for k, v in raw.get("yes_no", {"Oui": True, "Non": False}).items()
        },
    )


#: The mapping of ``data/survey_mapping.json``, loaded once at import.
DEFAULT_MAPPING: SurveyMapping = load_mapping()


# --------------------------------------------------------------------------------------------
# Reading an export
# --------------------------------------------------------------------------------------------


def _column_letter(index: int) -> str:
    """Return the spreadsheet letter of a 0-based column index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _decode(data: bytes) -> str:
    """Decode CSV bytes: UTF-16 after its byte-order mark (Excel's « Texte Unicode », tab
    separated: read as Windows-1252 it was mojibake, every column « missing »), UTF-8 (a BOM
    is dropped), else Windows-1252."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise GeosignalError("unreadable_file", "The file starts as UTF-16 text but is not.") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:  # cp1252 leaves 5 bytes undefined
        raise GeosignalError(
            "unreadable_file", "The CSV file is neither UTF-8 nor Windows-1252 text."
        ) from exc


def _header_hits(header: list[str], mapping: SurveyMapping) -> int:
    known = set().union(*(f.headers for f in mapping.fields))
    return sum(_norm(h) in known for h in header)


def _csv_rows(data: bytes, mapping: SurveyMapping) -> list[list[Any]]:
    """Split CSV text into rows, with the delimiter Excel's first line names (``sep=;``, as the
    reports' CSV reads it: it is no row) or else the one (``;``, ``,`` or tab) whose header row
    — the first row that is not empty: a title cleared above the table leaves one — matches
    the most mapped columns."""
    from geosignal.services.intake.files import SEP_DIRECTIVE

    text = _decode(data).lstrip("\ufeff")
    directive = SEP_DIRECTIVE.match(text)
    if directive:
        text = text[directive.end():]
    best: list[list[str]] = []
    best_hits = -1
    for delimiter in (directive.group(1),) if directive else (";", ",", "\t"):
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            raise GeosignalError(
                "unreadable_file", f"The CSV file cannot be parsed: {exc}"
            ) from exc
        if any(len(row) > MAX_SURVEY_COLUMNS for row in rows):
            raise GeosignalError("payload_too_large", f"The CSV file has a row of more than {MAX_SURVEY_COLUMNS} "
                                 "cells; a questionnaire export has a few dozen columns.", limit=MAX_SURVEY_COLUMNS)
        header = next((row for row in rows if any(cell.strip() for cell in row)), [])
        hits = _header_hits(header, mapping)
        if hits > best_hits:
            best, best_hits = rows, hits
    return best


#: The most rows and columns a questionnaire export is read for (a survey has one row per
#: commune, a few dozen columns): a workbook that declares more is refused, not read whole.
MAX_SURVEY_ROWS = 5000
MAX_SURVEY_COLUMNS = 500
#: The largest questionnaire export read (bytes, as uploaded): the upload limit of report files
#: (:class:`~geosignal.services.intake.Limits`); an XLSX workbook (a zip) may inflate to five times
#: it, as any uploaded archive (:func:`~geosignal.services.intake.containers.read_archive`).
MAX_SURVEY_BYTES = Limits.max_upload_bytes


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    """Read the first worksheet of an XLSX workbook as rows of cell values (at most
    :data:`MAX_SURVEY_COLUMNS` columns). The workbook is checked as an uploaded archive first
    (member names, bytes inflated: 413 ``archive_too_large``, 422 ``unsafe_archive``); more
    than :data:`MAX_SURVEY_ROWS` rows is 413 ``payload_too_large``."""
    from geosignal.services.intake.containers import read_archive

    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - openpyxl is a declared dependency
        raise GeosignalError("unsupported_format", "XLSX import needs openpyxl.") from exc
    read_archive(data, MAX_SURVEY_BYTES)  # (the upload's own size is bounded by its reader)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException…
        raise GeosignalError(
            "unreadable_file", "The file is not a readable XLSX workbook."
        ) from exc
    try:
        ws = wb.worksheets[0]
        rows = []
        for row in ws.iter_rows(values_only=True, max_col=MAX_SURVEY_COLUMNS):
            if len(rows) == MAX_SURVEY_ROWS:
                raise GeosignalError("payload_too_large", f"The workbook has more than {MAX_SURVEY_ROWS:,} rows; "
                                     "a survey export has one per commune.", limit=MAX_SURVEY_ROWS)
            rows.append(list(row))
        _no_formula_without_value(data, rows)
        return rows
    except GeosignalError:
        raise
    except Exception as exc:  # a damaged sheet (XML, shared strings) found while reading it
        raise GeosignalError("unreadable_file", "The file is not a readable XLSX workbook.") from exc
    finally:
        wb.close()


def _no_formula_without_value(data: bytes, rows: list[list[Any]]) -> None:
    """Refuse (422 ``unreadable_file``, ``where`` its row and column) a first worksheet cell
    holding a formula whose value the workbook does not keep (written by a program, never
    computed): read as the value, it was empty, « did not answer », stored without a word.
    ``rows``: the cells' values as read (``data_only``); only their empty cells are looked at."""
    import openpyxl

    if not any(value is None for row in rows for value in row):
        return
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        for r, (values, written) in enumerate(zip(rows, wb.worksheets[0].iter_rows(
                values_only=True, max_col=MAX_SURVEY_COLUMNS, max_row=len(rows)), strict=False)):
            for c, (value, formula) in enumerate(zip(values, written, strict=False)):
                if value is None and isinstance(formula, str) and formula.startswith("="):
                    where = f"row {r + 1}, column {_column_letter(c)}"
                    raise GeosignalError("unreadable_file", f"The cell at {where} holds a formula ({formula[:60]}) "
                                         "whose value the workbook does not keep: open the file in Excel or "
                                         "LibreOffice and save it again, then import it.", where=where,
                                         row=r + 1, column=_column_letter(c), kind="formula_without_value")
    finally:
        wb.close()


def _is_blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


class _Cell:
    """Context for errors: where a cell is and what it holds."""

    def __init__(self, row: int, col: int, header: str, raw: Any) -> None:
        self.row, self.col, self.header, self.raw = row, col, header, raw

    def error(self, detail: str, **extra: Any) -> GeosignalError:
        letter = _column_letter(self.col)
        return GeosignalError(
            "invalid_attribute",
            detail,
            where=f"row {self.row}, column {letter} ({self.header})",
            row=self.row,
            column=letter,
            header=self.header,
            value=None if self.raw is None else str(self.raw)[:200],
            **extra,
        )


def _integer(cell: _Cell) -> int | None:
    raw = cell.raw
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if math.isfinite(raw) and raw.is_integer() else None
    # digits 0-9, a whole number (« 7,0 » and « 10.0 » too): float() also read « 1_0 », « 1e1 »,
    # « +7 » and other scripts' digits as numbers
    found = _WHOLE_TEXT.fullmatch(str(raw).strip())
    return int(found.group(1)) if found else None


_WHOLE_TEXT = re.compile(r"(\d+)(?:[.,]0*)?", re.ASCII)


def _parse_cell(
    fm: FieldMapping, cell: _Cell, mapping: SurveyMapping, known_nis: Collection[str]
) -> Any:
    """Turn one cell into the field's value; None (or []) for a non-response."""
    raw = cell.raw
    if _is_blank(raw) or (isinstance(raw, str) and _norm(raw) in mapping.no_answer):
        if fm.required:
            raise cell.error(f"The {fm.header!r} cell is empty.")
        return [] if fm.type == "multi" else None
    if fm.type == "nis":
        # a number (a spreadsheet's cell), or the 5 digits as text (« 052011 » is no NIS code)
        code = _integer(cell) if not isinstance(raw, str) else None
        nis = f"{code:05d}" if code is not None and code > 0 else str(raw).strip()
        if nis not in known_nis:
            raise cell.error(
                f"{nis!r} is not the NIS code of a commune served.", reason="unknown_commune"
            )
        return nis
    if fm.type == "score":
        score = _integer(cell)
        if score is None or not (fm.min or 1) <= score <= (fm.max or 10):
            raise cell.error(
                f"The score must be a whole number from {fm.min} to {fm.max}, not {raw!r}.",
                min=fm.min,
                max=fm.max,
            )
        return score
    if fm.type == "yes_no":
        if isinstance(raw, bool):
            return raw
        value = mapping.yes_no.get(_norm(raw))
        if value is None:
            accepted = ", ".join(repr(k) for k in mapping.yes_no)
            raise cell.error(f"Expected one of {accepted} (or an empty cell), not {raw!r}.")
        return value
    if fm.type == "choice":
        choice = fm.choices.get(_norm(raw))
        if choice is None:
            raise cell.error(f"{raw!r} is not one of the accepted answers.")
        return choice
    # multi
    values: list[str] = []
    for part in str(raw).split(fm.separator):
        if not part.strip():
            continue
        value = fm.choices.get(_norm(part))
        if value is None:
            raise cell.error(f"{part.strip()!r} is not one of the accepted answers.")
        if value not in values:
            values.append(value)
    return values


def read_survey_export(
    data: bytes,
    filename: str,
    *,
    edition_year: int,
    mapping: SurveyMapping = DEFAULT_MAPPING,
    known_nis: Collection[str] = CHARLEROI_METROPOLE_NIS,
) -> list[SurveyResponse]:
    """Read a questionnaire export into one :class:`SurveyResponse` per commune.

    Parameters:
        data: the file's bytes. CSV in UTF-8 (with or without BOM) or Windows-1252, delimited
            by ``;``, ``,`` or tab; or an XLSX workbook (first sheet). The first row holds the
            column headers; columns the mapping does not know are ignored; fully empty rows are
            skipped.
        filename: the uploaded name; its extension (``.csv``, ``.txt``, ``.xlsx``) picks the
            format, and a ZIP signature means XLSX whatever the name.
        edition_year: the survey edition the rows belong to.
        mapping: the column mapping (default: ``data/survey_mapping.json``).
        known_nis: the NIS codes a row may name (default: the 30 communes of Charleroi
            Métropole).

    Returns the responses in file order, ``source_row`` set to the spreadsheet row number
    (header = row 1).

    Raises :class:`GeosignalError`: ``unsupported_format`` (not CSV/XLSX), ``unreadable_file``
    (undecodable, not a workbook), ``no_rows`` (no data row), ``missing_column`` (a required
    column is absent, or two columns map to one field), ``invalid_attribute`` with
    ``where="row N, column X (header)"`` and members ``row``, ``column``, ``header``, ``value``
    (unknown NIS code — ``reason: "unknown_commune"`` —, score outside 1–10 or not whole,
    answer outside the accepted values), ``duplicate_row`` (a commune answers twice).
    """
    name = filename.lower()
    is_zip = data[:4] == b"PK\x03\x04"
    if name.endswith((".xlsx", ".xlsm")) or is_zip:
        rows = _xlsx_rows(data)
    elif name.endswith((".csv", ".txt", ".tsv")):
        rows = _csv_rows(data, mapping)
    else:
        raise GeosignalError(
            "unsupported_format",
            f"{filename!r}: survey exports must be CSV or XLSX.",
            filename=filename,
        )

    skipped = 0  # leading empty lines: the rows keep the numbers the spreadsheet shows
    while rows and all(_is_blank(c) for c in rows[0]):
        rows.pop(0)
        skipped += 1
    if not rows:
        raise GeosignalError("no_rows", "The file is empty.")
    header = ["" if h is None else str(h).strip() for h in rows[0]]

    columns: dict[str, int] = {}
    for fm in mapping.fields:
        found = [i for i, h in enumerate(header) if _norm(h) in fm.headers]
        if len(found) > 1:
            letters = ", ".join(_column_letter(i) for i in found)
            raise GeosignalError(
                "missing_column",
                f"Columns {letters} all map to {fm.field!r}; keep one.",
                where=f"row {1 + skipped}, columns {letters}",
                field=fm.field,
            )
        if found:
            columns[fm.field] = found[0]
    missing = [fm for fm in mapping.fields if fm.field not in columns]
    if missing:
        raise GeosignalError(
            "missing_column",
            "Missing column(s): " + "; ".join(repr(fm.header) for fm in missing) + ".",
            where=f"row {1 + skipped}",
            missing=[fm.field for fm in missing],
            missing_headers=[fm.header for fm in missing],
        )

    responses: list[SurveyResponse] = []
    seen: dict[str, int] = {}
    for offset, row in enumerate(rows[1:], start=2 + skipped):
        if all(_is_blank(c) for c in row):
            continue
        values: dict[str, Any] = {}
        for fm in mapping.fields:
            col = columns[fm.field]
            raw = row[col] if col < len(row) else None
            values[fm.field] = _parse_cell(
                fm, _Cell(offset, col, header[col], raw), mapping, known_nis
            )
        nis = values["nis_code"]
        if nis in seen:
            col = columns["nis_code"]
            raise GeosignalError(
                "duplicate_row",
                f"Commune {nis} answers twice (rows {seen[nis]} and {offset}).",
                where=f"row {offset}, column {_column_letter(col)} ({header[col]})",
                row=offset,
                first_row=seen[nis],
                nis_code=nis,
            )
        seen[nis] = offset
        responses.append(SurveyResponse(edition_year=edition_year, source_row=offset, **values))
    if not responses:
        raise GeosignalError("no_rows", "The file has a header but no answer.")
    return responses


# --------------------------------------------------------------------------------------------
# Indicators
# --------------------------------------------------------------------------------------------


def _share(name: str, answered: Iterable[Any], predicate: Any) -> Indicator:
    answers = [a for a in answered if a is not None and a != []]
    count = sum(1 for a in answers if predicate(a))
    n = len(answers)
    return Indicator(name, count / n if n else None, count, n, UNIT_SHARE)


def _mean(name: str, scores: Iterable[int | None]) -> Indicator:
    given = [s for s in scores if s is not None]
    total, n = sum(given), len(given)
    return Indicator(name, total / n if n else None, total, n, UNIT_SCORE)


def compute_indicators(responses: Iterable[SurveyResponse]) -> dict[str, Indicator]:
    """Compute the survey report's indicators, each over the communes that answered it.

    Returns a dict keyed by indicator name (see ``docs/survey.md``):

    - ``smart_score``, ``citizens_informed`` — mean score (``score/10``);
    - ``priority_<theme>`` for each of :data:`SURVEY_PRIORITIES` and ``reason_<reason>`` for
      each of :data:`SURVEY_REASONS` (``reason_insufficient_connectivity`` among them) — share
      of communes citing it among those who answered that multi-choice question;
    - ``smart_actions_in_pst``, ``intends_to_answer_call``, ``citizens_involved``,
      ``public_procurement_done``, ``cyber_ready`` — share answering "Oui";
      ``cyber_not_ready`` = 1 − ``cyber_ready`` over the same denominator;
    - ``central_purchasing_<level>`` for each of :data:`CENTRAL_PURCHASING_LEVELS`.

    Raises :class:`GeosignalError` ``invalid_request`` if the responses mix editions.
    """
    rs = list(responses)
    years = {r.edition_year for r in rs}
    if len(years) > 1:
        raise GeosignalError(
            "invalid_request",
            "Indicators are computed one edition at a time.",
            editions=sorted(years),
        )
    out: list[Indicator] = [
        _mean("smart_score", (r.smart_score for r in rs)),
        _mean("citizens_informed", (r.citizens_informed_score for r in rs)),
    ]
    for theme in SURVEY_PRIORITIES:
        out.append(
            _share(f"priority_{theme}", (r.priorities for r in rs), lambda a, t=theme: t in a)
        )
    for reason in SURVEY_REASONS:
        out.append(_share(f"reason_{reason}", (r.reasons for r in rs), lambda a, t=reason: t in a))
    for name in (
        "smart_actions_in_pst",
        "intends_to_answer_call",
        "citizens_involved",
        "public_procurement_done",
        "cyber_ready",
    ):
        out.append(_share(name, (getattr(r, name) for r in rs), lambda a: a is True))
    out.append(_share("cyber_not_ready", (r.cyber_ready for r in rs), lambda a: a is False))
    for level in CENTRAL_PURCHASING_LEVELS:
        out.append(
            _share(
                f"central_purchasing_{level}",
                (r.central_purchasing_interest for r in rs),
                lambda a, lv=level: a == lv,
            )
        )
    return {i.name: i for i in out}


@dataclass(frozen=True)
class Comparison:
    """A computed indicator set against its published figure (``difference`` = computed −
    published; None when the indicator could not be computed)."""

    indicator: str
    published: float
    computed: float | None
    difference: float | None
    published_denominator: int | None
    computed_denominator: int | None


def compare_with_published(
    indicators: Mapping[str, Indicator], published: Iterable[PublishedIndicator]
) -> list[Comparison]:
    """Set computed indicators beside published ones (same names), in published order.

    Use it to check an import against the report (differences within the report's rounding:
    0.05 for scores, 0.01 for shares) or to put two editions side by side.
    """
    out = []
    for p in published:
        ind = indicators.get(p.indicator)
        computed = ind.value if ind else None
        out.append(
            Comparison(
                indicator=p.indicator,
                published=p.value,
                computed=computed,
                difference=None if computed is None else computed - p.value,
                published_denominator=p.denominator,
                computed_denominator=ind.denominator if ind else None,
            )
        )
    return out
