"""File imports: an uploaded file through the intake pipeline, previewed, then saved — set-wise.

A file is read and validated as arrays (:func:`~geosignal.services.intake.read_upload`), then
the whole batch is attributed to communes (:func:`~geosignal.services.intake.batch.home_communes`),
checked for probable duplicates (one query), and, when saved, copied into a temporary staging
table with binary ``COPY`` and stored with ``INSERT … SELECT`` statements; the statement-level
triggers of ``reports`` build the stored Features and bring the stored figures up to date once
per statement (migrations 0005 and 0007), so nothing more is called here.

Saving is all-or-nothing per upload (``mode="all"``) unless the user chooses to keep only
the valid features (``mode="valid_only"``). A preview (``dry_run``) runs exactly the same
steps except the writes, so that the preview of a file and its save give the same
per-feature report, but for what only the save knows: the ids, ``reference`` and ``revision`` of
the reports it stores (null in the preview), and a corrected report's properties as stored.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import shapely
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from geosignal import contract, policy, vocab
from geosignal.compression import gzip_chunks
from geosignal.errors import GeosignalError, is_write_conflict
from geosignal.geo import LAMBERT72, WGS84, transform_xy
from geosignal.models import Report, User
from geosignal.services import audit
from geosignal.services.communes import hold_communes
from geosignal.services.intake import Limits, ReportInput, ServiceArea, read_upload
from geosignal.services.intake.batch import (
    OUTSIDE_SHARE_WARNED,
    geometry_keys,
    home_communes,
    measures,
    outside_shares,
    outside_warning,
)
from geosignal.services.intake.core import source_row, source_where
from geosignal.services.intake.properties import network_mismatch
from geosignal.services.reports import (
    ATTRIBUTES,
    DUPLICATE_WINDOW_S,
    attribute_changes,
    attribute_key,
    attribute_key_texts,
    edit_values,
    not_your_commune,
)
from geosignal.services.territory import is_current
from geosignal.textsafety import UNSAFE_IN_NAMES, refuse_unsafe_text
from geosignal.vocab import NETWORKS

MODES = ("all", "valid_only")

#: ``progress(rows_done, rows_total)`` callback of long imports (jobs).
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class _Accepted:
    """One accepted feature of a batch: its intake result and what the batch decided."""

    item: ReportInput
    index: int
    nis: str
    #: given when the report is stored, or when a later feature of the file names it as the
    #: report it duplicates (a preview draws no identifier for the other features)
    report_id: uuid.UUID | None
    created: bool
    area_m2: float = 0.0
    length_m: float = 0.0
    #: the earlier feature of the same file this one duplicates
    first: _Accepted | None = None
    #: not stored, on the user's word: saved before by an earlier upload (``skip_saved_before``)
    skipped: bool = False
    #: the open report of the same place an earlier upload stored, which this row (other
    #: values: corrected in an edited copy) may update (``same_place_saved_before``, correctable)
    corrects: uuid.UUID | None = None
    #: when that upload saved it: the report may be corrected while unchanged since
    corrects_since: datetime | None = None
    #: updates that report instead of storing a new one, on the user's word (``correct_saved_before``)
    corrected: bool = False
    #: the ``reference`` and ``revision`` (``change_seq``) of the report the save stored for
    #: it (None in a preview, nothing stored; a corrected report's are read with its properties)
    reference: str | None = None
    revision: int | None = None


@dataclass
class ImportOutcome:
    """What an import did or would do. ``features``: one entry per feature of the file, in file
    order: ``{"index", "row" (CSV only: the row as a spreadsheet numbers it, header = 1; a
    quoted cell over several lines is one row), "status": "accepted"|"refused", "geometry" (GeoJSON, EPSG:4326:
    when accepted; when refused, where the feature lies if its shape was built — outside the
    communes served, in another commune, too small…), "properties" (when saved, the stored
    report's, ``reference`` and ``revision`` included; null in a preview), "warnings", "report_id" and "created" (when
    saved; False for a probable duplicate of a report filed seconds before), "error" (problem document
    when refused), "description" and "coordinates" (refused, when known: the feature's
    description, a CSV row's coordinate cells by column; see :func:`_problem`), "skipped": true
    (a row saved before, left out on the user's word: ``skip_saved_before``; no ``report_id``),
    "corrected": true (a row corrected in an edited copy that updates, on the user's word —
    ``correct_saved_before`` —, the report an earlier upload stored at its place: its
    ``report_id``)}``. ``saved`` counts the reports created, ``skipped`` the rows left out,
    ``corrected`` the reports updated.

    The entries are built on demand from the batch (:meth:`iter_features`), so that a large
    file's report can be streamed without holding every entry at once.
    """

    format: str | None
    dry_run: bool
    mode: str
    saved: int = 0
    skipped: int = 0
    corrected: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    #: per feature, in file order: a problem document (refused) or an :class:`_Accepted`
    rows: list[Any] = field(default_factory=list, repr=False)
    #: the API properties of the duplicates' stored reports (and, once saved, of the corrected
    #: reports) as JSON text, by report id (a preview right after saving the same 50,000 rows
    #: names 50,000 of them)
    existing: dict[uuid.UUID, str] = field(default_factory=dict, repr=False)
    commune_names: dict[str, str] = field(default_factory=dict, repr=False)
    created_at: datetime | None = None
    #: whether entries carry ``report_id`` and ``created`` (a save that stored the batch)
    stored: bool = False
    _features: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.rows if isinstance(r, _Accepted))

    @property
    def refused(self) -> int:
        return sum(1 for r in self.rows if not isinstance(r, _Accepted))

    @property
    def new_reports(self) -> int:
        """The reports the batch creates (a preview: would create), neither probable
        duplicates, nor rows left out or corrections."""
        return sum(1 for r in self.rows if isinstance(r, _Accepted) and r.created)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def features(self) -> list[dict[str, Any]]:
        """Every entry (built once)."""
        if self._features is None:
            self._features = list(self.iter_features())
        return self._features

    def refused_features(self) -> Iterator[dict[str, Any]]:
        """Yield the entries of the refused features only."""
        for r in self.rows:
            if not isinstance(r, _Accepted):
                yield r

    def iter_features(self) -> Iterator[dict[str, Any]]:
        """Yield the per-feature entries in file order."""
        return self._entries(self.rows)

    def iter_said(self) -> Iterator[dict[str, Any]]:
        """Yield, in file order, what the per-feature entries say without their geometry and
        properties (a summary's lines: the CLI's): a refused feature's entry whole, and
        ``{"index", "row" (CSV), "status": "accepted", "warnings"}`` for each accepted feature
        that has warnings — the very warnings its entry carries (:meth:`iter_features`)."""
        for r in self.rows:
            if not isinstance(r, _Accepted):
                yield r
                continue
            warnings = self._warnings(r)
            if warnings:
                entry: dict[str, Any] = {"index": r.index}
                row = source_row(r.item)
                if row is not None:
                    entry["row"] = row
                entry.update({"status": "accepted", "warnings": warnings})
                yield entry

    @staticmethod
    def _warnings(r: _Accepted) -> list[dict[str, Any]]:
        """The warnings of an accepted feature's entry: its intake's, and ``probable_duplicate``
        when it is not stored, being identical to a report filed seconds ago or to an earlier
        feature of the file (then ``first_index``, and ``first_row`` for a CSV row, name that
        feature: it alone is stored)."""
        warnings = list(r.item.warnings)
        if not r.created and not r.skipped and not r.corrected:
            if r.first is None:
                warnings.append({"code": "probable_duplicate", "detail": "identical to a report filed seconds ago",
                                 "report_id": str(r.report_id)})
            else:
                row = source_row(r.first.item)
                said = f"row {row}" if row is not None else f"feature {r.first.index}"
                warning = {"code": "probable_duplicate", "detail": f"identical to {said} of this file, stored once",
                           "report_id": str(r.report_id), "first_index": r.first.index}
                if row is not None:
                    warning["first_row"] = row
                warnings.append(warning)
        return warnings

    def _of_stored(self, r: _Accepted) -> bool:
        """Whether the entry of ``r`` carries the properties of a report stored before this
        feature was read (:attr:`existing`): a probable duplicate of a report filed seconds ago,
        or, once saved, a corrected report (or a later row repeating a corrected row)."""
        if r.first is None and not r.created and not r.skipped and not r.corrected:
            return True
        return self.stored and (r.first if r.first is not None else r).corrected

    def _entries(self, rows: list[Any], *, stored_mark: bool = False) -> Iterator[dict[str, Any]]:
        """The entries of ``rows`` as JSON-ready dicts; ``stored_mark``: a stored report's
        properties (a probable duplicate's) left as :data:`_STORED_MARK`, for their text."""
        for r in rows:
            if not isinstance(r, _Accepted):
                yield r
                continue
            item = r.item
            warnings = self._warnings(r)
            if self._of_stored(r):
                properties = _STORED_MARK if stored_mark else json.loads(self.existing[r.report_id])
            else:
                source = r.first if r.first is not None else r
                properties = _properties(source.item, source, self.commune_names[source.nis], self.created_at)
            entry: dict[str, Any] = {"index": r.index}
            row = source_row(item)
            if row is not None:  # a CSV row (lat/lon or WKT), as a spreadsheet numbers it
                entry["row"] = row
            entry.update({"status": "accepted", "geometry": _geojson(item.geometry), "properties": properties,
                          "warnings": warnings})
            if self.stored:
                if not r.skipped:
                    entry["report_id"] = str(r.report_id)
                entry["created"] = r.created
            if r.skipped:
                entry["skipped"] = True
            if r.corrected:
                entry["report_id"] = str(r.report_id)
                entry["corrected"] = True
            yield entry

    def summary(self) -> dict[str, Any]:
        """Return the outcome without its features (counts, format, mode, file warnings)."""
        return {"format": self.format, "dry_run": self.dry_run, "mode": self.mode, "saved": self.saved,
                "skipped": self.skipped, "corrected": self.corrected, "accepted": self.accepted,
                "refused": self.refused, "warnings": self.warnings}

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as JSON-ready data."""
        return {**self.summary(), "features": self.features}

    def iter_json(self, extra: dict[str, Any] | None = None) -> Iterator[str]:
        """Yield the outcome (plus ``extra`` members first) as JSON text in pieces, one
        feature at a time: the same document as :meth:`to_dict`, without building it whole.

        The properties of new reports are serialised once per distinct combination of
        measures and the very property values (which a file's rows share), with the commune
        left as a mark filled in per commune, and, in a save, the report's ``reference`` and
        ``revision`` as marks filled in per row; geometries are written a chunk at a time
        (:func:`_geojson_texts`).
        """
        head = {**(extra or {}), **self.summary()}
        yield json.dumps(head, ensure_ascii=False)[:-1] + ', "features": ['
        cache: dict[tuple, str] = {}
        templates: dict[tuple, str] = {}
        fills = {nis: (json.dumps(nis), json.dumps(contract.nfc(name), ensure_ascii=False))
                 for nis, name in self.commune_names.items()}
        tail = "}" if not self.stored else ', "created": true}'
        # a save's reports: their reference and revision filled per row (a preview's are null)
        marks = {"reference": _REFERENCE_MARK, "revision": _REVISION_MARK} if self.stored else {}
        sep = ""
        for start in range(0, len(self.rows), _JSON_CHUNK):
            rows = self.rows[start:start + _JSON_CHUNK]
            geometries = _geojson_texts([r.item.geometry for r in rows if isinstance(r, _Accepted) and r.created])
            for r in rows:
                if isinstance(r, _Accepted) and self._of_stored(r):
                    # a probable duplicate of a stored report, or a corrected one: its properties, as text
                    entry = json.dumps(next(self._entries([r], stored_mark=True)), ensure_ascii=False)
                    yield sep + entry.replace(_STORED_TEXT, self.existing[r.report_id], 1)
                    sep = ", "
                    continue
                if not isinstance(r, _Accepted) or not r.created:
                    yield sep + json.dumps(next(self._entries([r])), ensure_ascii=False)
                    sep = ", "
                    continue
                item = r.item
                values = item.properties
                key = (r.nis, r.area_m2, r.length_m, *values, *map(id, values.values()))
                props = cache.get(key)
                if props is None:
                    if len(cache) > 50_000:
                        cache.clear()
                        templates.clear()
                    template = templates.get(key[1:])
                    if template is None:
                        template = templates[key[1:]] = json.dumps(
                            _properties(item, r, _NAME_MARK, self.created_at, nis=_NIS_MARK, **marks),
                            ensure_ascii=False)
                    nis_json, name_json = fills[r.nis]
                    written = template.replace(_NIS_TEXT, nis_json).replace(_NAME_TEXT, name_json)
                    if self.stored:  # cut at the marks of the reference and the revision (contract order)
                        head, _, rest = written.partition(_REFERENCE_TEXT)
                        props = cache[key] = (head, *rest.partition(_REVISION_TEXT)[::2])
                    else:
                        props = cache[key] = (written,)
                # (a save's: the row's own report's reference, CM-YYYY-NNNNN, nothing to escape)
                filled = f'{props[0]}"{r.reference}"{props[1]}{r.revision}{props[2]}' if self.stored else props[0]
                warnings = json.dumps(item.warnings, ensure_ascii=False) if item.warnings else "[]"
                report_id = f', "report_id": "{r.report_id}"' if self.stored else ""
                row = source_row(item)
                row = f', "row": {row}' if row is not None else ""
                yield (f'{sep}{{"index": {r.index}{row}, "status": "accepted", "geometry": {next(geometries)}, '
                       f'"properties": {filled}, "warnings": {warnings}{report_id}{tail}')
                sep = ", "
        yield "]}"


#: Entries of a streamed outcome whose geometries are written together (bounds the memory).
_JSON_CHUNK = 8192


def _geojson_texts(geoms: list[Any]) -> Iterator[str]:
    """Yield the GeoJSON text of each geometry (EPSG:4326), in order, written as arrays:
    points from their coordinates (Python's shortest round-trip ``repr``), other geometries
    by GEOS (the shortest text that reads back as the same numbers)."""
    array = np.asarray(geoms, dtype=object) if geoms else np.empty(0, dtype=object)
    points = shapely.get_type_id(array) == 0
    xs = shapely.get_x(array[points]).tolist()
    ys = shapely.get_y(array[points]).tolist()
    others = iter(shapely.to_geojson(array[~points]).tolist())
    coordinates = iter(zip(xs, ys, strict=True))
    for is_point in points.tolist():
        if is_point:
            x, y = next(coordinates)
            yield f'{{"type": "Point", "coordinates": [{x!r}, {y!r}]}}'
        else:
            yield next(others)


def _geojson(geom: Any) -> dict[str, Any]:
    if geom.geom_type == "Point":
        return {"type": "Point", "coordinates": [geom.x, geom.y]}
    return json.loads(shapely.to_geojson(geom))


#: The marks standing for the commune's NIS code and name in a streamed report's properties
#: template, and their JSON texts: they hold a NUL, which no property value may (intake
#: refuses it).
_NIS_MARK, _NAME_MARK = "\x00nis\x00", "\x00name\x00"
_NIS_TEXT, _NAME_TEXT = json.dumps(_NIS_MARK), json.dumps(_NAME_MARK)
#: Likewise the stored report's ``reference`` and ``revision`` (a save's, filled in per row).
_REFERENCE_MARK, _REVISION_MARK = "\x00reference\x00", "\x00revision\x00"
_REFERENCE_TEXT, _REVISION_TEXT = json.dumps(_REFERENCE_MARK), json.dumps(_REVISION_MARK)
#: (:meth:`ImportOutcome.iter_json` fills them in this order)
assert contract.names(contract.API).index("reference") < contract.names(contract.API).index("revision")
#: The mark standing for a stored report's properties in a streamed entry, and its JSON text.
_STORED_MARK = "\x00stored\x00"
_STORED_TEXT = json.dumps(_STORED_MARK)


def _properties(item: ReportInput, r: _Accepted, commune_name: str, created_at: datetime | None, *,
                nis: str | None = None, reference: str | None = None, revision: Any = None) -> dict[str, Any]:
    """The properties the stored report's Feature will carry (``reports.to_feature``), in the
    commune ``nis`` (default: the report's home commune), with its ``reference`` and
    ``revision`` (default: the stored report's, ``r.reference`` and ``r.revision``; None in a
    preview; a streamed template passes marks)."""
    props = item.properties
    record = SimpleNamespace(
        commune_nis=r.nis if nis is None else nis, network=props.get("network"), technologies=props.get("technologies") or [],
        operators=props.get("operators") or [], issue=props.get("issue"), setting=props.get("setting"),
        households_affected=props.get("households_affected"), businesses_affected=props.get("businesses_affected"),
        description=props.get("description") or "", observed_at=props.get("observed_at"), status="submitted",
        created_at=created_at, updated_at=created_at, reference=r.reference if reference is None else reference,
        change_seq=r.revision if revision is None else revision,
    )
    kind = contract.geometry_kind(item.geometry.geom_type)
    return contract.api_properties(contract.Source(record, commune_name, kind, r.area_m2, r.length_m))


_CSV_ROW = re.compile(r"row (\d+)")


def _problem(error: GeosignalError, index: int, columns: tuple[tuple[str, int], ...] | None = None) -> dict[str, Any]:
    """The entry of a refused feature; a CSV row's carries ``row`` (as a spreadsheet numbers
    it, header = 1), as accepted rows do. What the feature held, when known
    (``error.source``), follows the error, for its author to find it: ``description``,
    ``coordinates`` (a CSV row's coordinate cells by column: as written when the reader
    refused the row, else the numbers read from them: ``columns``, the file's coordinate
    columns with their axes, :attr:`~geosignal.services.intake.files.UploadResult.coordinate_columns`)
    and ``geometry`` (GeoJSON, EPSG:4326: where the feature lies, when its shape was built)."""
    entry: dict[str, Any] = {"index": index}
    row = _CSV_ROW.fullmatch(error.where or "")
    if row is not None:
        entry["row"] = int(row.group(1))
    entry.update({"status": "refused", "error": error.to_problem()})
    source = error.source
    if source:
        if source.get("description"):
            entry["description"] = source["description"]
        if source.get("cells"):
            entry["coordinates"] = source["cells"]
        elif source.get("xy") is not None and columns is not None and row is not None:
            entry["coordinates"] = {column: source["xy"][axis] for column, axis in columns}
        elif source.get("lonlat") is not None and columns is not None and row is not None:
            entry["_lonlat"] = source["lonlat"]  # its coordinates, in the file's CRS: _positions_as_read
        geometry = source.get("geometry")
        if geometry is not None and not geometry.is_empty:
            entry["geometry"] = _geojson(geometry)
    return entry


def _item_source(item: ReportInput, epsg: int | None) -> dict[str, Any]:
    """What an accepted feature later refused (its commune, its network) is shown with
    (``GeosignalError.source``): its description, its shape and, for a CSV point row read
    from coordinate columns (``epsg``: their CRS), its position in EPSG:4326 (``lonlat``),
    given back in ``epsg`` for all the refused rows at once (:func:`_positions_as_read`)."""
    source: dict[str, Any] = {"geometry": item.geometry}
    description = item.properties.get("description")
    if description:
        source["description"] = description
    if epsg is not None and isinstance(item.locate, int) and item.geometry.geom_type == "Point":
        source["lonlat"] = (item.geometry.x, item.geometry.y)
    return source


def _positions_as_read(rows: list[Any], columns: tuple[tuple[str, int], ...] | None, epsg: int | None) -> None:
    """Give the refused CSV rows that carry their position in EPSG:4326 (``_lonlat``, see
    :func:`_problem`) their ``coordinates`` by column, in the file's CRS ``epsg``: one
    transform for all of them."""
    refused = [r for r in rows if isinstance(r, dict) and "_lonlat" in r]
    if not refused or columns is None or epsg is None:
        return
    xy = np.asarray([r.pop("_lonlat") for r in refused], dtype=float)
    if epsg != WGS84:
        xy = transform_xy(xy, WGS84, epsg)
    for entry, position in zip(refused, xy.tolist(), strict=True):
        entry["coordinates"] = {column: position[axis] for column, axis in columns}


def import_file(
    session: Session,
    user: User,
    data: bytes,
    filename: str,
    *,
    area: ServiceArea,
    limits: Limits,
    crs: str | None = None,
    repair: bool = False,
    column_map: dict[str, str] | None = None,
    default_network: str | None = None,
    mode: str = "all",
    dry_run: bool = False,
    progress: Progress | None = None,
    raise_rejected: bool = True,
    skip_saved_before: bool = False,
    correct_saved_before: bool = False,
    asked_at: datetime | None = None,
    acting: dict[str, Any] | None = None,
) -> ImportOutcome:
    """Read an uploaded file and store its reports for ``user`` (the caller commits).

    Every feature goes through :func:`~geosignal.services.intake.read_upload` (validated as
    arrays), then the batch is attributed to communes (rule of ``commune_of``; a
    representative's report must lie mainly in their commune: ``not_your_commune``, 403, per
    feature), checked for probable duplicates (same user, identical geometry and attributes,
    filed less than ``DUPLICATE_WINDOW_S`` s before the save was asked for — ``asked_at``, a
    queued job's creation (aware datetime), else now — or since, or earlier in the same file:
    the first report is named and nothing is stored for it) and stored set-wise. (A job queued
    behind the same file's save, sent twice, ran once that save was over: measured from then,
    a save longer than the window stored the file twice.) Features without
    ``network`` take ``default_network``. In ``mode="all"`` any refused feature means
    nothing is stored and ``import_rejected`` (422) is raised carrying the per-feature
    report; in ``valid_only`` the valid ones are stored. File-level problems raise as
    :func:`read_upload` does (413, 415, 422). ``progress(done, total)`` is called once the
    file is validated (refused features and duplicates count as done) and as rows are
    stored. ``raise_rejected=False`` returns the outcome of a rejected ``mode="all"`` save
    (nothing stored) instead of raising ``import_rejected`` (jobs report it themselves).
    A save that stores reports remembers the file by its SHA-256 (``import_files``); the
    preview and the save of the same bytes by the same user, or by someone of their commune,
    then carry a file-level ``file_already_saved`` warning (:func:`_saved_before`). Rows of
    an edited copy that were saved before, unchanged, carry ``row_saved_before`` and the file
    ``rows_saved_before`` (:func:`_rows_saved_before`); with ``skip_saved_before`` those rows
    are left out (``skipped``), in the preview as in the save. A row of the place (and network)
    of an open report an earlier upload stored, with other values, carries
    ``same_place_saved_before`` (:func:`_same_places_saved_before`); with
    ``correct_saved_before`` each such row marked ``correctable`` updates that report's
    attributes instead of storing a second one (``corrected``; its geometry is the report's
    already), as an edit of the report page would (journalled ``edit`` with the values before
    and after; a report changed meanwhile is stored anew: :func:`_apply_corrections`).
    Before anything is written (under the user's save lock, which a deactivation takes too),
    the account is read again: deactivated, or its role or commune changed since ``user`` was
    read, the save raises ``forbidden`` (403, :func:`account_problem`) and stores nothing; so
    does a save asked for with an API token revoked or expired since, or from a signed-in
    session by an account whose password was set again since (``acting``, a queued job's:
    :func:`credential_problem`).
    """
    check_file_name(filename)
    if mode not in MODES:
        raise GeosignalError("invalid_request", f"mode must be one of {', '.join(MODES)}", where="mode")
    if default_network is not None and default_network not in NETWORKS:
        raise GeosignalError("invalid_attribute", f"network must be one of {', '.join(NETWORKS)}", where="network")
    with collector_paused():
        return _import_file(session, user, data, filename, area=area, limits=limits, crs=crs, repair=repair,
                            column_map=column_map, default_network=default_network, mode=mode, dry_run=dry_run,
                            progress=progress, raise_rejected=raise_rejected, skip_saved_before=skip_saved_before,
                            correct_saved_before=correct_saved_before, asked_at=asked_at, acting=acting)


def check_file_name(filename: str) -> None:
    """Refuse (400 ``invalid_request``, ``where`` ``file``) a file's name that cannot be kept with
    its save (said back when the same file comes again): a NUL or another control, a direction
    override that shows another name (``rapport-`` U+202E ``nosjoeg.geojson`` reads "rapport-geojson.json"),
    an unpaired surrogate (a name in Latin-1 bytes on a UTF-8 system, as Python reads it: the save
    failed in the database with a traceback), and, unlike a text, a tab or a line break. Every
    path that takes a file checks it here."""
    refuse_unsafe_text(filename, name="The file's name", where="file", code="invalid_request",
                       characters=UNSAFE_IN_NAMES)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (the previous state is restored).

    A file's rows make a few objects each (row, properties, geometry, result) that all live
    until the batch is stored; every full collection while they are built walks all of them
    again: about a fifth of a 50,000-row preview's time. The few cycles made meanwhile (a
    refused row's error and its traceback) are collected after the block.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import_file(session: Session, user: User, data: bytes, filename: str, *, area: ServiceArea, limits: Limits,
                 crs: str | None, repair: bool, column_map: dict[str, str] | None, default_network: str | None,
                 mode: str, dry_run: bool, progress: Progress | None, raise_rejected: bool,
                 skip_saved_before: bool, correct_saved_before: bool, asked_at: datetime | None,
                 acting: dict[str, Any] | None) -> ImportOutcome:
    results = read_upload(data, filename, area=area, limits=limits, crs=crs, repair=repair, column_map=column_map)
    total = len(results)
    if progress:
        progress(0, total)
    outcome = ImportOutcome(format=results.format, dry_run=dry_run, mode=mode, warnings=list(results.warnings))
    sha256 = hashlib.sha256(data).hexdigest()
    earlier = _saved_before(session, user, sha256) if dry_run else None  # (a save reads it under its lock)
    if earlier is not None:
        outcome.warnings.append(earlier)
    rows: list[Any] = [None] * total
    candidates: list[int] = []
    columns, epsg = results.coordinate_columns, results.coordinate_epsg
    for position, item in enumerate(results):
        if isinstance(item, GeosignalError):
            rows[position] = _problem(item, item.extra.get("index", position), columns)
            results[position] = None  # the refusal lives on as its problem document alone
            continue
        index = item.source_index if item.source_index is not None else position
        if "network" not in item.properties:
            if default_network is None:
                error = GeosignalError("invalid_attribute", "network is missing (mobile or fixed); choose a default",
                                       where=source_where(item, index), index=index)
                error.source = _item_source(item, epsg)
                rows[position] = _problem(error, index, columns)
                continue
            item.properties["network"] = default_network
        mismatch = network_mismatch(item.properties)
        if mismatch:  # (the network may be the default one: checked here, once it is known)
            item.warnings = [*item.warnings, mismatch]
        candidates.append(position)
    accepted = _attribute(session, user, area, [results[p] for p in candidates], rows, candidates, columns, epsg)
    accepted = _whole_collections(rows, accepted, columns, epsg)
    _positions_as_read(rows, columns, epsg)
    outcome.rows = rows
    outcome.commune_names = dict(zip(area.nis_codes, area.names, strict=True))
    if dry_run:
        outcome.created_at = session.execute(text("SELECT now()")).scalar_one()
    else:  # one user's saves one after another: the same file saved twice at once is stored once
        # the communes lock first (shared): a load of communes under way ends before anything
        # is written; one that ended since the communes were read for this file moved them
        hold_communes(session)
        if not is_current(session, area):
            raise GeosignalError("communes_changed", "the communes were loaded again while the file was read: "
                                 "save it again")
        outcome.created_at = session.execute(_SAVE_LOCK, {"uid": str(user.id)}).scalar_one()
        # the account as it is now, once no deactivation can come in between (it takes this lock
        # too): a job queued, or a request begun, before the account was deactivated or changed
        # stores nothing
        problem = (account_problem(session.execute(_ACCOUNT_NOW, {"uid": user.id}).one_or_none(), acting_as(user))
                   or credential_problem(session, user.id, acting))
        if problem is not None:
            raise problem
        # read under the lock: a save of the same file that waited for another's says it (read
        # before, it missed the one it waited for)
        earlier = _saved_before(session, user, sha256)
        if earlier is not None:
            outcome.warnings.insert(len(results.warnings), earlier)
    keys = geometry_keys(np.asarray([a.item.geometry for a in accepted], dtype=object))
    _find_duplicates(session, user, accepted, keys, outcome, asked_at)
    digests, saved_before = _rows_saved_before(session, user, accepted, keys, outcome)
    places = place_digests(keys, [a.item.properties.get("network") or "" for a in accepted])
    _same_places_saved_before(session, user, accepted, places, saved_before, results.properties_read,
                              correcting=correct_saved_before)
    if skip_saved_before and len(saved_before):
        _skip(accepted, saved_before, outcome)
    if correct_saved_before:
        _correct(accepted, outcome)
    all_ok = outcome.refused == 0
    if not dry_run and (mode == "valid_only" or all_ok):
        corrections = outcome.corrected > 0
        if corrections:  # (before the new reports: a report changed meanwhile becomes one of them)
            _apply_corrections(session, user, accepted, outcome, results.properties_read)
        new = [a for a in accepted if a.created]
        if new:
            _store(session, user, new, outcome.created_at,
                   progress=(lambda done: progress(total - len(new) + done, total)) if progress else None,
                   locked=corrections)
        if outcome.corrected:  # their entries carry the corrected reports as stored now
            _read_stored(session, (a.report_id for a in accepted if a.corrected), outcome)
        outcome.stored = True
        outcome.saved = len(new)
        kept = np.fromiter((a.created or a.corrected for a in accepted), dtype=bool, count=len(accepted))
        if kept.any():  # remembered by its content and its rows: the same bytes, or rows, saved again are said
            # (by the user's commune; an admin's save, by the one commune of its reports when they
            # lie in one: a file loaded for a commune is said to its representatives)
            homes = {a.nis for a in accepted if a.created or a.corrected}
            nis = user.commune_nis or (next(iter(homes)) if len(homes) == 1 else None)
            session.execute(_REMEMBER_FILE, {"sha": sha256, "uid": user.id, "nis": nis, "at": outcome.created_at,
                                             "name": filename[:255], "saved": len(new) + outcome.corrected,
                                             "rows": np.unique(digests[kept]).astype("<u8").tobytes(),
                                             "places": places[kept].astype("<u8").tobytes(),
                                             "ids": b"".join(a.report_id.bytes for a in accepted
                                                             if a.created or a.corrected)})
    elif not dry_run and outcome.corrected:  # refused: nothing stored, nothing corrected
        for a in accepted:
            if a.corrected:
                a.created, a.corrected, a.report_id = True, False, None
        outcome.corrected = 0
    if progress:
        progress(total, total)
    if mode == "all" and not all_ok and not dry_run and raise_rejected:
        raise GeosignalError(
            "import_rejected",
            f"{outcome.refused} of {total} features were refused; nothing was saved "
            "(correct the file, or choose to keep only the valid features)",
            **outcome.to_dict(),
        )
    return outcome


_SAVED_BEFORE = text(
    "SELECT saved_at, filename, saved, user_id = :uid FROM import_files WHERE sha256 = :sha "
    "AND (user_id = :uid OR commune_nis = :nis) ORDER BY saved_at DESC LIMIT 1")
#: (``saved_at``: when the save lock was taken, as its reports' ``created_at``)
_REMEMBER_FILE = text("INSERT INTO import_files (sha256, user_id, commune_nis, filename, saved, row_digests, "
                      "place_digests, report_ids, saved_at) "
                      "VALUES (:sha, :uid, :nis, :name, :saved, :rows, :places, :ids, coalesce(:at, now()))")
#: How many earlier saves (the latest, of the user or their commune) an upload's rows are
#: compared with.
ROWS_SAVED_BEFORE_FILES = 50
_EARLIER_ROWS = text(
    "SELECT saved_at, filename, user_id = :uid AS by_you, row_digests FROM import_files "
    "WHERE (user_id = :uid OR commune_nis = :nis) AND row_digests IS NOT NULL "
    "ORDER BY saved_at DESC, id DESC LIMIT :n")


def row_digests(items: list[ReportInput], keys: list[bytes]) -> np.ndarray:
    """Return one 64-bit digest per feature (``uint64`` array, same order) of what makes two
    reports the same: the geometry up to vertex order (``keys``, from
    :func:`~geosignal.services.intake.batch.geometry_keys`) and
    :func:`~geosignal.services.reports.attribute_key`. Equal for a row kept unchanged in an
    edited copy of a file; a collision (about one in 10¹⁹ per pair) only adds a warning."""
    blake2b = hashlib.blake2b
    texts = attribute_key_texts([item.properties for item in items])
    return np.fromiter((int.from_bytes(blake2b(gkey + t.encode("utf-8", "backslashreplace"), digest_size=8).digest(),
                                       "little") for gkey, t in zip(keys, texts, strict=True)),
                       dtype=np.uint64, count=len(items))


def _rows_saved_before(session: Session, user: User, accepted: list[_Accepted], keys: list[bytes],
                       outcome: ImportOutcome) -> tuple[np.ndarray, np.ndarray]:
    """Say which rows of the upload were saved before, set-wise: their digests
    (:func:`row_digests`) are looked up in those of the latest :data:`ROWS_SAVED_BEFORE_FILES`
    saves of the user or their commune (one query; ``numpy.isin`` per save). Each such row
    that would create a report gets a ``row_saved_before`` warning naming the latest save
    that held it (``filename``, ``saved_at`` ISO 8601, ``by_you``); the file gets a
    ``rows_saved_before`` warning with their number and those saves (unless it is the very
    file saved before: ``file_already_saved`` says it). Returns the digests and the positions
    (in ``accepted``) of those rows."""
    digests = row_digests([a.item for a in accepted], keys)
    none = np.empty(0, dtype=np.intp)
    if not accepted:
        return digests, none
    earlier = session.execute(_EARLIER_ROWS, {"uid": user.id, "nis": user.commune_nis,
                                              "n": ROWS_SAVED_BEFORE_FILES}).all()
    if not earlier:
        return digests, none
    found = np.full(len(accepted), -1)
    for f, save in enumerate(earlier):  # the latest first: a row names the latest save holding it
        hit = (found < 0) & np.isin(digests, np.frombuffer(save.row_digests, dtype="<u8"))
        found[hit] = f
    creating = np.fromiter((a.created for a in accepted), dtype=bool, count=len(accepted))
    rows = np.flatnonzero((found >= 0) & creating)
    if not len(rows):
        return digests, none
    notes = [{"filename": save.filename, "saved_at": contract.format_datetime(save.saved_at),
              "by_you": bool(save.by_you)} for save in earlier]
    for k in rows.tolist():
        item = accepted[k].item  # (features of a file may share one warnings list: never appended to)
        item.warnings = [*item.warnings, {"code": "row_saved_before", **notes[found[k]]}]
    if not any(w["code"] == "file_already_saved" for w in outcome.warnings):
        files = sorted(set(found[rows].tolist()))
        outcome.warnings.append({
            "code": "rows_saved_before", "rows": len(rows), "saves": [notes[f] for f in files],
            "detail": f"{len(rows)} row(s) are identical (place and attributes) to rows saved before from "
                      f"{len(files)} earlier upload(s); saving them stores those reports a second time"})
    return digests, rows


def place_digests(keys: list[bytes], networks: list[str]) -> np.ndarray:
    """One 8-byte digest (uint64) per row: its place (the geometry key of
    :func:`~geosignal.services.intake.batch.geometry_keys`, up to vertex order) and its
    network, whatever its other values (a mobile and a fixed white zone at one place are two
    reports)."""
    blake2b = hashlib.blake2b
    return np.fromiter((int.from_bytes(blake2b(k + b"\0" + n.encode(), digest_size=8).digest(), "little")
                        for k, n in zip(keys, networks, strict=True)), dtype=np.uint64, count=len(keys))


_EARLIER_PLACES = text(
    "SELECT saved_at, filename, user_id = :uid AS by_you, place_digests, report_ids FROM import_files "
    "WHERE (user_id = :uid OR commune_nis = :nis) AND place_digests IS NOT NULL "
    "ORDER BY saved_at DESC, id DESC LIMIT :n")
#: the reports a changed row may repeat: still open (:data:`geosignal.vocab.STATUS_TYPES`; a
#: row of the place of a closed report — rejected, withdrawn, resolved… — is a new report),
#: the user's or their commune's
_OPEN_REPORTS = text(
    "SELECT id, reference, status, commune_nis, updated_at, " + ", ".join(ATTRIBUTES) + " FROM reports "
    "WHERE id = ANY(:ids) AND status = ANY(:open) AND (reporter_id = :uid OR commune_nis = :nis)")
_OPEN_STATUSES = [s for s, kind in vocab.STATUS_TYPES.items() if kind == "open"]


def _same_places_saved_before(session: Session, user: User, accepted: list[_Accepted], places: np.ndarray,
                              saved_before: np.ndarray, carried: set[str] | frozenset[str], *,
                              correcting: bool = False) -> None:
    """Say, set-wise, which rows would store a second report of a place (and network) an
    earlier upload stored with other values (a row corrected in an edited copy of a file): each such row
    that would create a report, and is not the same row saved before (``saved_before``:
    positions in ``accepted``), gets a ``same_place_saved_before`` warning naming that report
    (``report_id``, ``reference``) and the save that stored it (``filename``, ``saved_at``
    ISO 8601, ``by_you``) — the latest such save among the last :data:`ROWS_SAVED_BEFORE_FILES`
    of the user or their commune, and only while the report is open (not rejected, withdrawn,
    resolved…: closed). The warning says whether the row may update that report instead
    (``correctable``: the user may edit it — :func:`geosignal.policy.may_edit_report` —, it
    was neither edited nor moved on since that save — a save that corrected it counts —, and
    no earlier row of the file claims it), and when not, why (``not_correctable``: ``status``,
    a status that is no longer edited; ``changed``, edited or moved on since; ``repeated``,
    an earlier row of the file corrects it); such a row keeps the report in ``corrects``, and
    its warning says what the correction would change (``changes``: ``[{"name", "before",
    "after"}]`` in contract order, values as the API writes them; only the properties the file
    has a column for, ``carried``: :func:`_corrected_values`). Where that save stored several
    reports of the row's place, an unchanged row of the file keeps the one it repeats and a
    changed row takes, in file order, the one of the others it changes least.
    With ``correcting`` (a save with ``correct_saved_before``) the ``detail`` of a correctable
    row says that it corrects the report, not that it stores a second one. Two queries,
    whatever the number of rows.
    """
    if not accepted:
        return
    candidates = np.fromiter((a.created for a in accepted), dtype=bool, count=len(accepted))
    candidates[saved_before] = False
    if not candidates.any():
        return
    earlier = session.execute(_EARLIER_PLACES, {"uid": user.id, "nis": user.commune_nis,
                                                "n": ROWS_SAVED_BEFORE_FILES}).all()
    if not earlier:
        return
    # the rows to place (would create a report) and the rows saved before (unchanged: each
    # keeps the report of its place it repeats), each looked up in the latest save of its place
    unchanged = np.zeros(len(accepted), dtype=bool)
    unchanged[saved_before] = True
    looked = candidates | unchanged
    found = np.full(len(accepted), -1)
    at: dict[int, np.ndarray] = {}  # row → the positions, in that save, of the reports of its place
    for f, save in enumerate(earlier):  # the latest first: a row names the latest save of its place
        stored = np.frombuffer(save.place_digests, dtype="<u8")
        if not len(stored):
            continue
        order = np.argsort(stored, kind="stable")  # (equal digests stay in file order)
        first = np.searchsorted(stored[order], places, side="left")
        last = np.searchsorted(stored[order], places, side="right")
        hit = looked & (found < 0) & (last > first)
        found[hit] = f
        for k in np.flatnonzero(hit).tolist():
            at[k] = order[first[k]:last[k]]
    if not (candidates & (found >= 0)).any():
        return

    def stored_id(k: int, position: int) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(earlier[found[k]].report_ids[16 * position:16 * position + 16]))

    open_reports = {r.id: r for r in session.execute(_OPEN_REPORTS, {
        "ids": list({stored_id(k, q) for k, positions in at.items() for q in positions.tolist()}),
        "open": _OPEN_STATUSES, "uid": user.id, "nis": user.commune_nis})}
    # several reports at one place (one save stored two rows of it, e.g. two operators): each
    # unchanged row keeps the one it repeats, and each changed row, in file order, takes the
    # one of the others it changes least (the first saved on a tie) — not always the first
    taken: set[uuid.UUID] = set()
    chosen: dict[int, uuid.UUID] = {}
    for k in sorted(at, key=lambda k: (not unchanged[k], k)):
        reports = [open_reports[i] for i in (stored_id(k, q) for q in at[k].tolist()) if i in open_reports]
        if not reports:
            continue
        # (one report at the place, the usual case: nothing to weigh)
        values = [attribute_changes(r._mapping, _corrected_values(r._mapping, accepted[k].item, carried))[1]
                  for r in reports] if len(reports) > 1 else [{}]
        free = [n for n, r in enumerate(reports) if r.id not in taken]
        if unchanged[k]:
            same = [n for n in free if not values[n]]
            taken.update(reports[n].id for n in same[:1])
            continue
        best = min(free or range(len(reports)), key=lambda n: (len(values[n]), n))
        chosen[k] = reports[best].id
        taken.add(reports[best].id)
    claimed: set[uuid.UUID] = set()
    for k in sorted(chosen):
        report_id, report = chosen[k], open_reports[chosen[k]]
        save = earlier[found[k]]
        why = _not_correctable(user, report, save.saved_at) or ("repeated" if report_id in claimed else None)
        if why is None:
            accepted[k].corrects, accepted[k].corrects_since = report_id, save.saved_at
            claimed.add(report_id)
        item = accepted[k].item  # (features of a file may share one warnings list: never appended to)
        warning = {"code": "same_place_saved_before", "report_id": str(report_id), "reference": report.reference,
                   "filename": save.filename, "saved_at": contract.format_datetime(save.saved_at),
                   "by_you": bool(save.by_you), "correctable": why is None}
        changed = ""
        if why is not None:
            warning["not_correctable"] = why
            if why == "status":
                warning["status"] = report.status
        else:
            before, after = attribute_changes(report._mapping, _corrected_values(report._mapping, accepted[k].item,
                                                                                 carried))
            warning["changes"] = [{"name": n, "before": before[n], "after": after[n]} for n in after]
            changed = ("; correcting it changes " + ", ".join(f"{n} ({before[n]!r} → {after[n]!r})" for n in after)
                       + " and keeps the rest") if after else "; correcting it changes nothing"
        head = f"the same place as report {report.reference}, saved from {save.filename!r} with other values: "
        warning["detail"] = (head + "this row corrects it (correct_saved_before)" + changed.replace(
            "; correcting it", "; it") if correcting and why is None else
            head + "saving this row stores a second report; " + _CORRECTION_ADVICE[why] + changed)
        item.warnings = [*item.warnings, warning]


#: What the ``same_place_saved_before`` warning advises, by why the row may not correct the
#: report (None: it may).
_CORRECTION_ADVICE: dict[str | None, str] = {
    None: "to correct that one, save with correct_saved_before, or edit it",
    "status": "that one is no longer edited (its status)",
    "changed": "that one changed since that save: to correct it, edit it",
    "repeated": "an earlier row of this file corrects that one",
}


def _not_correctable(user: User, report: Any, since: datetime) -> str | None:
    """Why a row may not correct ``report`` (a row with ``status``, ``commune_nis`` and
    ``updated_at``) that an upload saved at ``since``: ``status`` (the user may not edit it:
    :func:`geosignal.policy.may_edit_report`), ``changed`` (edited or moved on since); None
    when it may. The rule of the preview and, under the rows' locks, of the save."""
    if not policy.may_edit_report(user, report.commune_nis, report.status):
        return "status"
    return "changed" if report.updated_at > since else None


def _correct(accepted: list[_Accepted], outcome: ImportOutcome) -> None:
    """Let the rows that may update the report an earlier upload stored at their place
    (``corrects``, from :func:`_same_places_saved_before`) do so instead of creating one; the
    later rows of the file that repeat one of them name that report."""
    for a in accepted:
        if a.corrects is not None and a.created:
            a.created, a.corrected, a.report_id = False, True, a.corrects
    for a in accepted:
        if a.first is not None and a.first.corrected:
            a.report_id = a.first.report_id
    outcome.corrected = sum(1 for a in accepted if a.corrected)


#: The corrected reports, locked in one order (the edit's: the report's row, then its zones').
_LOCK_CORRECTED = text(
    "SELECT id, status, commune_nis, updated_at, "
    + ", ".join(ATTRIBUTES) + " FROM reports WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")
#: One statement for every corrected report: its attributes from the JSON rows (typed as the
#: table's columns).
_UPDATE_CORRECTED = text(
    "UPDATE reports r SET " + ", ".join(f"{k} = x.{k}" for k in ATTRIBUTES) + ", updated_at = now() "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id uuid, " + ", ".join(
        f"{k} {Report.__table__.c[k].type.compile(dialect=postgresql.dialect())}" for k in ATTRIBUTES)
    + ") WHERE r.id = x.id")
#: One ``edit`` event per corrected report, with its values before and after.
_JOURNAL_CORRECTED = text(
    "INSERT INTO audit_events (action, actor_id, actor_role, actor_commune_nis, report_id, commune_nis, "
    "before, after, details) SELECT 'edit', :actor_id, :actor_role, :actor_commune_nis, r.id, r.commune_nis, "
    "x.before, x.after, CAST(:details AS jsonb) FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
    "AS x(id uuid, before jsonb, after jsonb) JOIN reports r ON r.id = x.id ORDER BY r.seq")


def _corrected_values(report: Mapping[str, Any], item: ReportInput, carried: set[str] | frozenset[str]
                      ) -> dict[str, Any]:
    """The attributes (:data:`ATTRIBUTES`, as :func:`edit_values` writes them) of ``report``
    (a row of ``reports``) once the file's row ``item`` corrects it: the properties the file
    has a column for (``carried``: :attr:`~geosignal.services.intake.files.UploadResult.properties_read`;
    an empty cell there empties the report's value) take the row's values; the others — the
    file says nothing of them —, and a value the reader set aside in the row
    (``attribute_dropped``), keep the report's own."""
    values = edit_values(item.properties)
    dropped = {w.get("name") for w in item.warnings if w.get("code") == "attribute_dropped"}
    return {k: (v if k in carried and k not in dropped else report[k]) for k, v in values.items()}


def _lock_batch(session: Session, networks: set[str], staging: str | None = None) -> None:
    """Take, before a save's first write, the locks its statements take one by one, in the
    writers' order: the shared lock of changes (an export's watermark), the zone locks of
    ``networks`` (name order), then every commune's row of ``commune_stats`` shared, in NIS
    order, then (``staging``: the save's staging table) the stored-figure cells its rows
    touch (:func:`_lock_staged_cells`). A save writes in several statements (the corrections' UPDATE, then one INSERT per
    :data:`STORE_CHUNK` rows), each of which took the communes it touched: a correction's
    commune first, then, waiting for a network lock, a smaller NIS code — while a commune
    reload (``load-communes``, ``refresh-stats``), taking them all in NIS order, waited for
    the first: a deadlock (a concurrency trial: the reload failed, or the upload got 500).
    Every commune, because a batch may touch any; a reload waits for the save, other writers
    (shared locks too) do not."""
    from geosignal.services.export.constants import CHANGE_LOCK_KEY

    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": CHANGE_LOCK_KEY})
    session.execute(text("SELECT zones_lock(CAST(:nets AS varchar[]))"), {"nets": sorted(networks)})
    session.execute(text("SELECT 1 FROM commune_stats ORDER BY nis_code FOR SHARE"))
    if staging is not None:
        _lock_staged_cells(session, staging)


#: The stored-figure cells (``commune_cells``) the zones and lines of a staging table ``{staging}``
#: touch — those the ``reports`` triggers' ``commune_cells_refresh`` takes for them: the grid
#: cells of each geometry whose clip comes within ``:reach`` metres (EPSG:31370) — locked
#: ``FOR UPDATE`` in the one order every writer takes them, (nis_code, i, j), in one statement.
_LOCK_STAGED_CELLS = """SELECT 1 FROM commune_cells c
WHERE (c.nis_code, c.i, c.j) IN (
  SELECT cc.nis_code, cc.i, cc.j
  FROM (SELECT ST_GeomFromWKB(wkb, 4326) AS x FROM {staging}) s
  CROSS JOIN LATERAL grid_cells_of(s.x) k
  JOIN commune_cells cc ON cc.i = k.i AND cc.j = k.j AND cc.clip && ST_Expand(ST_Transform(s.x, 31370), :reach)
  WHERE ST_Dimension(s.x) > 0)
ORDER BY c.nis_code, c.i, c.j FOR UPDATE OF c"""


def _lock_staged_cells(session: Session, staging: str) -> None:
    """Lock, before a save's first INSERT, every stored-figure cell its staged zones and lines
    touch, in the fixed (nis_code, i, j) order (:data:`_LOCK_STAGED_CELLS`). Each INSERT's
    trigger locks the cells of its own chunk (:data:`STORE_CHUNK` rows) only: chunk 1 held a
    cell B, a road filed meanwhile took a cell A < B and waited for B, chunk 2 then needed A —
    a deadlock, the save rolled back (``internal_error``, nothing saved). Taken up front, a
    writer of those cells waits for the save, or the save for it."""
    from geosignal.services.aggregation.filters import LINE_REACH_M

    session.execute(text(_LOCK_STAGED_CELLS.format(staging=staging)), {"reach": LINE_REACH_M})


def _apply_corrections(session: Session, user: User, accepted: list[_Accepted], outcome: ImportOutcome,
                       carried: set[str] | frozenset[str]) -> None:
    """Update the reports the corrected rows of ``accepted`` name with the rows' attributes,
    set-wise: their rows locked in id order, then one ``UPDATE … FROM jsonb_to_recordset``
    (its statement triggers recompute the stored figures, Features and zones) and one ``edit``
    audit event per report that changed (the values before and after, as the report page's
    edit journals them; ``details.source`` = ``import``). A report that may no longer be
    updated (edited, moved on or closed since the preview) is stored anew instead: its row
    becomes a created one, with a new id. Only the properties the file has a column for
    (``carried``) change; the others, and a value the reader set aside in the row
    (``attribute_dropped``), keep the report's own (:func:`_corrected_values`). The caller
    commits."""
    corrected = [a for a in accepted if a.corrected]
    locked = session.execute(_LOCK_CORRECTED, {"ids": [a.report_id for a in corrected]}).all()
    # every lock the save's statements will take, before the first: the corrected reports' and
    # the new rows' networks (old and new), then the communes (_lock_batch)
    _lock_batch(session, {r.network for r in locked} | {a.item.properties["network"] for a in accepted
                                                        if a.created or a.corrected})
    since = {a.report_id: a.corrects_since for a in corrected}
    still = {r.id: r for r in locked if _not_correctable(user, r, since[r.id]) is None}
    rows, events = [], []
    for a in corrected:
        report = still.get(a.report_id)
        if report is None:  # changed meanwhile: a new report, as without the user's word
            a.created, a.corrected, a.report_id = True, False, uuid.uuid4()
            continue
        # a property the file has no column for, or a cell the reader set aside (attribute_dropped),
        # says nothing of the value: the report keeps its own
        values = _corrected_values(report._mapping, a.item, carried)
        before, after = attribute_changes(report._mapping, values)
        if after:
            rows.append({"id": str(a.report_id), **values})
            events.append({"id": str(a.report_id), "before": before, "after": after})
    for a in accepted:  # the later rows of the file repeating a row stored anew name its new report
        if a.first is not None and a.first.created and a.first.corrects is not None:
            a.report_id = a.first.report_id
    if rows:
        session.execute(_UPDATE_CORRECTED, {"rows": json.dumps(rows, ensure_ascii=False,
                                                               default=contract.format_datetime)})
        session.execute(_JOURNAL_CORRECTED, {"rows": json.dumps(events, ensure_ascii=False),
                                             **audit.actor_fields(user), "details": json.dumps({"source": "import"})})
    outcome.corrected = len(corrected) - sum(1 for a in corrected if a.created)


def _skip(accepted: list[_Accepted], positions: np.ndarray, outcome: ImportOutcome) -> None:
    """Leave out the rows at ``positions`` (saved before), and the later rows of the file that
    repeat one of them."""
    for k in positions.tolist():
        a = accepted[k]
        a.created, a.skipped, a.report_id = False, True, None
    for a in accepted:
        if a.first is not None and a.first.skipped:
            a.created, a.skipped, a.report_id = False, True, None
    outcome.skipped = sum(1 for a in accepted if a.skipped)


def _saved_before(session: Session, user: User, sha256: str) -> dict[str, Any] | None:
    """The ``file_already_saved`` warning when the same bytes (``sha256``, hex) were saved
    before by ``user`` or by someone of their commune (the latest such save: ``saved_at``
    ISO 8601, ``filename``, ``saved`` reports, ``by_you``), else None. One indexed query."""
    row = session.execute(_SAVED_BEFORE, {"sha": sha256, "uid": user.id, "nis": user.commune_nis}).first()
    if row is None:
        return None
    saved_at, name, saved, by_you = row
    return {"code": "file_already_saved", "saved_at": contract.format_datetime(saved_at), "filename": name, "saved": saved,
            "by_you": bool(by_you),
            "detail": f"The same file ({name!r}, the same bytes) was saved on {saved_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC by "
                      f"{'you' if by_you else 'someone of your commune'}: {saved} report(s). Saving it again "
                      "stores its reports a second time; save only the rows that are new."}


def _attribute(session: Session, user: User, area: ServiceArea, items: list[ReportInput], rows: list[Any],
               positions: list[int], columns: tuple[tuple[str, int], ...] | None = None,
               epsg: int | None = None) -> list[_Accepted]:
    """Give every candidate its home commune (set-wise); refuse those outside every commune
    and, for a representative, those lying mainly in another commune (shown with what they
    held: :func:`_item_source`; ``columns`` and ``epsg``: a CSV's coordinate columns)."""
    if not items:
        return []
    geoms = np.asarray([it.geometry for it in items], dtype=object)
    communes = home_communes(area, geoms)
    areas = np.asarray([np.nan if it.area_m2 is None else it.area_m2 for it in items])
    lengths = np.asarray([np.nan if it.length_m is None else it.length_m for it in items])
    missing = np.flatnonzero(np.isnan(areas) | np.isnan(lengths))
    if len(missing):  # measures not given by intake
        areas[missing], lengths[missing] = measures(
            shapely.transform(geoms[missing], lambda c: transform_xy(c, WGS84, LAMBERT72)))
    names = dict(zip(area.nis_codes, area.names, strict=True))
    accepted: list[_Accepted] = []
    homes, areas_l, lengths_l = list(communes.home), areas.tolist(), lengths.tolist()
    representative = user.role == "representative"
    for k, (item, position) in enumerate(zip(items, positions, strict=True)):
        index = item.source_index if item.source_index is not None else position
        nis = homes[k]
        error = None
        if nis is None:
            error = GeosignalError("outside_service_area", "the geometry does not touch any commune served",
                                   where=source_where(item, index))
        elif representative and not policy.may_write_in_commune(user, nis):
            error = not_your_commune(item.geometry, nis, names[nis], user.commune_nis,
                                     where=source_where(item, index))
        if error is not None:
            member = _member(item)
            if member is not None:  # which member of its collection, as a refusal on reading says
                error.extra["member"] = member
            error.source = _item_source(item, epsg)
            rows[position] = _problem(error, index, columns)
            continue
        a = _Accepted(item, index, nis, None, True, areas_l[k], lengths_l[k])
        rows[position] = a
        accepted.append(a)
    shares = outside_shares(area, geoms, homes)
    for k in np.flatnonzero(shares >= OUTSIDE_SHARE_WARNED).tolist():
        item, nis = items[k], homes[k]
        if isinstance(rows[positions[k]], _Accepted):  # (features may share a warnings list: never appended to)
            item.warnings = [*item.warnings, outside_warning(shares[k], nis, names[nis], geoms[k])]
    return accepted


def _member(item: ReportInput) -> int | None:
    """The member a report is of the collection its feature was split from
    (``geometry_collection_split``), or None."""
    return next((w.get("member") for w in item.warnings if w.get("code") == "geometry_collection_split"), None)


def _whole_collections(rows: list[Any], accepted: list[_Accepted], columns: tuple[tuple[str, int], ...] | None,
                       epsg: int | None) -> list[_Accepted]:
    """A collection split into one report per member (``geometry_collection_split``) is one
    feature of the file: stored whole or not at all. When a member is refused, each other
    member becomes a refusal too (``collection_member_refused``, with its ``member`` and the
    ``refused_members``), in ``rows``, in place, so that no feature is half-stored (in
    ``valid_only`` mode as in the preview). Returns the accepted features left."""
    def member_of(a: _Accepted) -> int | None:
        return _member(a.item)

    split = {a.index for a in accepted if member_of(a) is not None}
    refused: dict[int, list[int]] = {}
    for r in rows:
        if split and isinstance(r, dict) and r["index"] in split:
            refused.setdefault(r["index"], []).append(r["error"].get("member"))
    if not refused:
        return accepted
    for position, r in enumerate(rows):
        if isinstance(r, _Accepted) and r.index in refused:
            member, others = member_of(r), sorted(m for m in refused[r.index] if m is not None)
            error = GeosignalError(
                "collection_member_refused", f"Member {member} of this feature's collection is not stored: "
                f"member{'s' if len(others) > 1 else ''} {', '.join(map(str, others))} of it "
                f"{'are' if len(others) > 1 else 'is'} refused, and a collection is stored whole or not at all.",
                where=source_where(r.item, r.index), member=member, refused_members=others)
            error.source = _item_source(r.item, epsg)
            rows[position] = _problem(error, r.index, columns)
    return [a for a in accepted if a.index not in refused]


def _find_duplicates(session: Session, user: User, accepted: list[_Accepted], keys: list[bytes],
                     outcome: ImportOutcome, asked_at: datetime | None = None) -> None:
    """Mark probable duplicates, set-wise: a feature identical (geometry up to vertex order,
    ``keys``, and attributes) to a report the user filed less than ``DUPLICATE_WINDOW_S``
    seconds before the save was asked for (``asked_at``; None: now), or since (one query), or
    to an earlier feature of the same file names that report and creates nothing."""
    if not accepted:
        return
    first: dict[tuple, uuid.UUID | _Accepted] = {}
    stored_geoms: set[bytes] = set()
    file_keys = set(keys)
    # the user's recent reports, read in partitions through a server-side cursor: a file saved
    # seconds ago holds as many as the file (50,000 rows held at once: +60 MB of the worker)
    recent = session.execute(_RECENT, {"uid": user.id, "window": DUPLICATE_WINDOW_S, "asked": asked_at},
                             execution_options={"yield_per": _PARTITION})
    for part in recent.partitions(_PARTITION):
        stored_keys = geometry_keys(shapely.from_wkb([bytes(r.wkb) for r in part]))
        for r, gkey in zip(part, stored_keys, strict=True):
            if gkey in file_keys:  # (no feature of the file has the others' geometries)
                first.setdefault((gkey, attribute_key(r._mapping)), r.id)
                stored_geoms.add(gkey)
    # only a geometry seen twice (in the file, or in the file and the recent reports) can be
    # a duplicate: the attributes are compared for those alone
    counts = Counter(keys)
    stored: set[uuid.UUID] = set()
    for a, gkey in zip(accepted, keys, strict=True):
        if counts[gkey] == 1 and gkey not in stored_geoms:
            continue
        key = (gkey, attribute_key(a.item.properties))
        earlier = first.get(key)
        if earlier is None:
            first[key] = a
        elif isinstance(earlier, _Accepted):
            if earlier.report_id is None:
                earlier.report_id = uuid.uuid4()
            a.report_id, a.created, a.first = earlier.report_id, False, earlier
        else:
            a.report_id, a.created = earlier, False
            stored.add(earlier)
    if stored:
        _read_stored(session, stored, outcome)


def _read_stored(session: Session, ids: Iterable[uuid.UUID], outcome: ImportOutcome) -> None:
    """Keep the API properties of the stored reports ``ids``, as they are now, in
    ``outcome.existing`` (JSON text by id). One query, read in partitions."""
    rows = session.execute(_STORED_PROPERTIES, {"ids": list(ids)}, execution_options={"yield_per": _PARTITION})
    for part in rows.partitions(_PARTITION):
        for row in part:
            outcome.existing[row.id] = json.dumps(contract.api_properties(contract.Source(
                row, row.name_fr, contract.GEOMETRY_KINDS[row.dimension], row.area_m2, row.length_m)),
                ensure_ascii=False)


#: Waits for the user's other saves to commit (the duplicate check, a later statement, then
#: sees their reports); returns the transaction's time.
#: The user's save lock, and the moment it was taken (``clock_timestamp()``, once the lock is
#: held): the new reports' ``created_at``. A save reads and checks its file first, which takes
#: seconds; dated from its transaction's start, a slow save's reports fell outside the
#: duplicate window of the same file saved again meanwhile (it waited on this lock), and were
#: stored twice.
_SAVE_LOCK = text("SELECT clock_timestamp() FROM pg_advisory_xact_lock(hashtextextended('import:' || :uid, 0))")
#: The account as committed now (what :func:`account_problem` reads).
_ACCOUNT_NOW = select(User.in_force, User.role, User.commune_nis).where(User.id == bindparam("uid"))


def lock_saves(session: Session, user_id: int) -> None:
    """Wait for the saves of user ``user_id`` under way to commit, and hold their lock to the
    end of the caller's transaction (a deactivation: a save then starting reads the account
    once it is committed)."""
    session.execute(_SAVE_LOCK, {"uid": str(user_id)})


def acting_as(user: Any) -> dict[str, Any]:
    """The capacity in which ``user`` files reports, kept with a queued import: ``role`` and
    ``commune_nis``."""
    return {"role": user.role, "commune_nis": user.commune_nis}


def account_problem(account: Any, acting: dict[str, Any] | None = None) -> GeosignalError | None:
    """Return why reports may not be stored now for ``account`` (a :class:`User` or a row with
    ``in_force``, ``role``, ``commune_nis``; None when there is none) in the
    capacity ``acting`` (:func:`acting_as`, when the work was asked for), or None.

    The error is ``forbidden`` (403) with ``reason``: ``account_deactivated`` (deactivated, or
    no such account), ``account_changed`` (its role or commune is not the one the work was
    asked for in: a representative moved to another commune does not file the first one's
    reports) or ``may_not_file`` (a role that files no reports).
    """
    if account is None or not account.in_force:
        return GeosignalError("forbidden", "the account this import acts for is deactivated; nothing was saved",
                              reason="account_deactivated")
    if acting is not None and (account.role, account.commune_nis) != (acting.get("role"), acting.get("commune_nis")):
        return GeosignalError("forbidden", "the account's role or commune changed since this import was asked "
                              "for; nothing was saved (upload the file again)", reason="account_changed")
    if not policy.may_file_reports(account):
        return GeosignalError("forbidden", "this account files no reports; nothing was saved",
                              reason="may_not_file")
    return None

def password_digest(password_hash: str) -> str:
    """A digest of an account's stored ``password_hash``, kept with an import queued from a
    signed-in session (:func:`create_import_job`): it differs once the password was set again
    (changed, reset), and tells nothing of the password."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()


def credential_problem(session: Session, user_id: int, acting: dict[str, Any] | None) -> GeosignalError | None:
    """Return why a queued import may not store reports any more because of what asked for it
    (``acting``, :func:`create_import_job`), or None. ``forbidden`` (403) with ``reason``:

    * ``token_revoked``: the API token that asked for it (``acting["token_id"]``) was revoked
      since (its owner reset her password, or revoked it: a token taken must not go on filing
      in her name) or has expired;
    * ``password_changed``: asked from a signed-in session, and the account's password was set
      again since (``acting["password"]``, :func:`password_digest`): a reset ends the sessions
      a thief took, and what they queued stores nothing. Signing out does not (one's own job
      runs on).
    """
    from geosignal.models import ApiToken

    acting = acting or {}
    token_id = acting.get("token_id")
    if token_id is not None:
        if session.scalar(select(ApiToken.id).where(ApiToken.id == token_id, ApiToken.in_force())) is not None:
            return None
        return GeosignalError("forbidden", "the API token that asked for this import was revoked or has expired "
                              "since; nothing was saved", reason="token_revoked")
    if acting.get("password") is not None:
        stored = session.scalar(select(User.password_hash).where(User.id == user_id))
        if stored is None or password_digest(stored) != acting["password"]:
            return GeosignalError("forbidden", "the account's password was set again since this import was asked "
                                  "for from a signed-in session; nothing was saved", reason="password_changed")
    return None


#: Rows per partition of the duplicate check's reads (a server-side cursor).
_PARTITION = 5_000

#: The user's reports filed within ``:window`` seconds, with what a duplicate must share.
_RECENT = text(
    "SELECT id, ST_AsBinary(geometry) AS wkb, network, technologies, operators, issue, setting, "
    "households_affected, businesses_affected, description, observed_at FROM reports "
    "WHERE reporter_id = :uid AND created_at > least(now(), coalesce(CAST(:asked AS timestamptz), now())) "
    "- make_interval(secs => :window) "
    # in the status an upload files (a draft, or a report withdrawn since, is no duplicate)
    "AND status = 'submitted' ORDER BY seq")


#: What the API properties of stored reports are made of (:func:`geosignal.contract.api_properties`,
#: as :func:`geosignal.services.reports.to_feature` makes them): every column of ``reports`` but
#: the geometry, with the commune's name, the geometry's dimension and measures, and no ORM
#: object: a preview within seconds of saving the same 50,000 rows names 50,000 stored
#: reports, whose Features held 470 MB.
_STORED_PROPERTIES = text(f"""
    SELECT {", ".join(f"r.{c.name}" for c in Report.__table__.columns if c.name != "geometry")},
           c.name_fr, ST_Dimension(r.geometry) AS dimension,
           ST_Area(ST_Transform(r.geometry, {LAMBERT72})) AS area_m2,
           ST_Length(ST_Transform(r.geometry, {LAMBERT72})) AS length_m
    FROM reports r JOIN communes c ON c.nis_code = r.commune_nis
    WHERE r.id = ANY(CAST(:ids AS uuid[]))""")


_STAGING_COLUMNS = ("idx", "id", "wkb", "commune_nis", "network", "technologies", "operators", "issue", "setting",
                    "households_affected", "businesses_affected", "description", "observed_at")
_STAGING_TYPES = ("int4", "uuid", "bytea", "text", "text", "text[]", "text[]", "text", "text", "int4", "int4",
                  "text", "timestamptz")


#: Rows per ``INSERT … SELECT`` from the staging table (progress is reported between them).
STORE_CHUNK = 25_000


def _store(session: Session, user: User, new: list[_Accepted], stored_at: datetime | None,
           progress: Callable[[int], None] | None = None, locked: bool = False) -> None:
    """Store the new reports: binary COPY into a temporary staging table, then
    ``INSERT INTO reports … SELECT`` in file order, one statement per :data:`STORE_CHUNK`
    rows, each followed by one ``INSERT INTO audit_events … SELECT`` journalling their
    creation; the zones are regrouped once for the file, after the last chunk. The save's
    locks are taken first (:func:`_lock_batch`, the staged rows' cells included), unless
    ``locked``: its corrections took them (the cells are taken then, :func:`_lock_staged_cells`).
    ``stored_at``: the reports' ``created_at`` and ``updated_at`` (when the save lock was
    taken, :data:`_SAVE_LOCK`; None: the transaction's ``now()``). Each of ``new`` is given its
    report's ``report_id``, ``reference`` and ``revision`` (returned by its INSERT)."""
    staging = f"import_staging_{uuid.uuid4().hex[:12]}"
    for a in new:
        if a.report_id is None:
            a.report_id = uuid.uuid4()
    raw = session.connection().connection.driver_connection
    columns = ", ".join(_STAGING_COLUMNS)
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {staging} (idx int, id uuid, wkb bytea, commune_nis text, network text, "
            "technologies text[], operators text[], issue text, setting text, households_affected int, "
            "businesses_affected int, description text, observed_at timestamptz)")
        with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(_STAGING_TYPES))
            for k, a in enumerate(new):
                if k % STORE_CHUNK == 0:  # the geometries as WKB a chunk at a time (bounds the memory)
                    wkbs = shapely.to_wkb(np.asarray([b.item.geometry for b in new[k:k + STORE_CHUNK]],
                                                     dtype=object)).tolist()
                p = a.item.properties
                copy.write_row((k, a.report_id, wkbs[k % STORE_CHUNK], a.nis, p["network"], p.get("technologies") or [],
                                p.get("operators") or [], p.get("issue"), p.get("setting"),
                                p.get("households_affected"), p.get("businesses_affected"),
                                p.get("description") or "", p.get("observed_at")))
        # the networks' zone locks first (the writers' lock order), then the communes (taken
        # already when corrections came first); the zones of the file are regrouped once,
        # after its last statement (zones_sql: zones_defer / zones_flush)
        networks = sorted({a.item.properties["network"] for a in new})
        if not locked:  # (taken by the corrections already, for their rows and these)
            _lock_batch(session, set(networks), staging)
        else:  # (the corrections change no geometry: they took no cell)
            _lock_staged_cells(session, staging)
        cursor.execute("SELECT zones_defer(%s::varchar[])", (networks,))
        for start in range(0, len(new), STORE_CHUNK):
            cursor.execute(
                "INSERT INTO reports (id, geometry, commune_nis, reporter_id, network, technologies, operators, "
                "issue, setting, households_affected, businesses_affected, description, observed_at, created_at, "
                "updated_at) "
                "SELECT id, ST_GeomFromWKB(wkb, 4326), commune_nis, %s, network, technologies, operators, issue, "
                "setting, households_affected, businesses_affected, description, observed_at, "
                "coalesce(%s, now()), coalesce(%s, now()) "
                f"FROM {staging} WHERE idx >= %s AND idx < %s ORDER BY idx RETURNING id, reference, change_seq",
                (user.id, stored_at, stored_at, start, start + STORE_CHUNK))
            # each row's reference and revision, as the report's Feature carries them (the
            # statement triggers write no report again)
            stored = {i: (reference, seq) for i, reference, seq in cursor.fetchall()}
            for a in new[start:start + STORE_CHUNK]:
                a.reference, a.revision = stored[a.report_id]
            # the batch's creations journalled in one INSERT … SELECT (services/audit.py)
            cursor.execute(audit.creation_from_staging_sql(staging),
                           (*audit.creation_args(user), start, start + STORE_CHUNK))
            if progress:
                progress(min(start + STORE_CHUNK, len(new)))
        cursor.execute("SELECT zones_flush()")
    from geosignal.services import notifications

    notifications.notify_created_in(session, staging, user)  # one statement for the file
    session.execute(text(f"DROP TABLE {staging}"))


# --------------------------------------------------------------------------- jobs

#: Import options a job keeps (the form fields of ``POST /api/v1/imports``).
JOB_OPTIONS = ("crs", "repair", "column_map", "default_network", "mode", "skip_saved_before",
               "correct_saved_before")
#: The fields ``POST /api/v1/imports`` reads (form fields or query parameters) besides the
#: multipart ``file``, with what each says (OpenAPI). Any other is refused: ``dry-run=true``
#: (the CLI's spelling) or ``colum_map`` were ignored, the file saved unmapped.
IMPORT_FIELDS: dict[str, str] = {
    "dry_run": "true: preview (200), nothing saved.",
    "mode": "all (all or nothing, the default) or valid_only.",
    "crs": "CRS of the coordinates: EPSG:4326 (default), EPSG:31370 or EPSG:3812.",
    "network": "Network of the features that give none: mobile or fixed.",
    "repair": "true: repair self-crossing outlines (make_valid, every lobe kept).",
    "column_map": "JSON object: our names (lon, lat, x, y, wkt, position, a property) to the file's columns.",
    "skip_saved_before": "true: leave out the rows an earlier upload saved.",
    "correct_saved_before": "true: a row of the place of a report an earlier upload stored, with other values "
                            "(same_place_saved_before, correctable), updates that report instead of storing a "
                            "second one.",
}


#: The example row of the template file (:func:`template_csv`), by column: a point in Charleroi
#: (WGS 84, as Belgian Excel writes decimals), then a value of each property the upload form
#: takes (the contract's; a property added there must be given an example here: checked
#: below). The description is the caller's (in the page's language); the radius is left
#: empty (a point stays a point).
TEMPLATE_EXAMPLE: dict[str, str] = {
    "lat": "50,4108", "lon": "4,4440", "network": "mobile", "technologies": "4G", "operators": "Proximus",
    "issue": "weak_signal", "setting": "outdoor", "households_affected": "12", "businesses_affected": "1",
    "description": "", "observed_at": "01/03/2025", "radius": "",
}
assert set(TEMPLATE_EXAMPLE) == {"lat", "lon", *contract.names(contract.UPLOAD)}


def template_columns() -> list[str]:
    """The columns of the template file: latitude and longitude by the names the readers give
    those coordinates (:data:`~geosignal.services.intake.properties.COORD_ALIASES`), then every
    property of the contract's upload form by its own name, in contract order."""
    from geosignal.services.intake.properties import COORD_ALIASES

    return [*(k for k in ("lat", "lon") if k in COORD_ALIASES), *contract.names(contract.UPLOAD)]


def template_csv(description: str, place: tuple[float, float] | None = None) -> bytes:
    """The template file of the upload page as Belgian Excel writes a CSV: UTF-8 with a byte
    order mark, ``;`` between cells, decimal commas, CRLF; its header row (the canonical column
    names, :func:`template_columns`) and one example row (:data:`TEMPLATE_EXAMPLE`, with
    ``description``), at ``place`` (``(lat, lon)``, EPSG:4326: a point of the uploader's
    commune, :func:`geosignal.services.communes.example_point`) when given."""
    example = dict(TEMPLATE_EXAMPLE, description=description)
    if place is not None:
        example["lat"], example["lon"] = (f"{v:.4f}".replace(".", ",") for v in place)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    columns = template_columns()
    writer.writerow(columns)
    writer.writerow([example[c] for c in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def check_options(*, mode: str, default_network: str | None, crs: str | None,
                  column_map: dict[str, str] | None = None) -> None:
    """Refuse bad import options before any work (400 ``invalid_request``, 422
    ``invalid_attribute`` / ``unsupported_crs``), as :func:`import_file` would: the mode, the
    default network, the CRS and the ``column_map`` keys (the columns it names need the file)."""
    from geosignal.services.intake import parse_crs
    from geosignal.services.intake.files import check_column_map_keys

    check_column_map_keys(column_map)

    if mode not in MODES:
        raise GeosignalError("invalid_request", f"mode must be one of {', '.join(MODES)}", where="mode")
    if default_network is not None and default_network not in NETWORKS:
        raise GeosignalError("invalid_attribute", f"network must be one of {', '.join(NETWORKS)}", where="network")
    if crs is not None:
        parse_crs(crs, where="crs")


def create_import_job(session: Session, user: User, data: bytes, filename: str, options: dict[str, Any],
                      token_id: int | None = None, language: str | None = None) -> Any:
    """Keep an upload to be saved by a job worker and put it in the queue, in the caller's
    transaction (the caller commits: job and queue entry appear together). ``options`` are
    :data:`JOB_OPTIONS`; the job also keeps the capacity the user asks in (``acting_as``:
    role and commune, :func:`acting_as`) and what asked: the API token (``token_id``), or, from
    a signed-in session (``token_id`` None), a digest of the account's password hash
    (``password``, :func:`password_digest`), which the worker checks again
    (:func:`credential_problem`), and the
    ``language`` of the request (``fr``, ``nl``, ``en``: a failure's ``message`` is written in
    it, :data:`MessageMaker`). Returns the :class:`~geosignal.models.ImportJob` (state ``queued``)."""
    from geosignal import jobs
    from geosignal.models import ImportJob

    acting = {**acting_as(user),
              **({"token_id": token_id} if token_id is not None else {"password": password_digest(user.password_hash)})}
    job = ImportJob(id=uuid.uuid4(), user_id=user.id, filename=filename[:255], upload=data,
                    options={**{k: options.get(k) for k in JOB_OPTIONS}, "acting_as": acting,
                             **({"language": language} if language else {})},
                    state="queued", rows_done=0)
    session.add(job)
    session.flush()
    job.queue_job_id = jobs.enqueue_import(session, job.id)
    return job


def _iso(dt: datetime | None) -> str | None:
    from geosignal.services.reports import iso

    return iso(dt)


def job_head(job: Any) -> dict[str, Any]:
    """The members of a job's document that change while it runs (``id``, ``state``,
    ``rows_done``, ``rows_total``, file name, times in Brussels ISO 8601)."""
    return {"id": str(job.id), "state": job.state, "filename": job.filename, "rows_done": job.rows_done,
            "rows_total": job.rows_total, "created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at)}


def get_import_job(session: Session, user: User, import_id: str) -> Any:
    """Return the user's import job (admins see every one); ``not_found`` (404) otherwise."""
    from geosignal.models import ImportJob

    try:
        key = uuid.UUID(str(import_id))
    except ValueError:
        raise GeosignalError("not_found", f"no import {import_id}") from None
    job = session.get(ImportJob, key)
    if job is None or not policy.may_read_import(user, job.user_id):
        raise GeosignalError("not_found", f"no import {import_id}")
    return job


def _gzip_json(pieces: Iterator[str]) -> bytes:
    return b"".join(gzip_chunks(piece.encode("utf-8") for piece in pieces))


#: What a person reads of a failed job's error, in a language (``fr``, ``nl``, ``en`` or None:
#: the default): ``(error, language) -> message``. The job worker, which has the translations
#: (:mod:`geosignal.jobs`), gives one; the problem document then carries ``message`` as a
#: synchronous answer does, in the language of the request that queued the job.
MessageMaker = Callable[[GeosignalError, "str | None"], str]


def job_problem(job: Any, error: GeosignalError, describe: MessageMaker | None = None) -> dict[str, Any]:
    """The problem document of ``job``'s ``error``, with its ``message`` when ``describe`` is given."""
    doc = error.to_problem()
    if describe is not None:
        doc["message"] = describe(error, (job.options or {}).get("language"))
    return doc


def finish_failed(session: Session, job: Any, error: GeosignalError, describe: MessageMaker | None = None) -> None:
    """End ``job`` as ``failed`` with ``error`` before it read its file: its document is the
    head and ``error`` (a problem document, :func:`job_problem`), its file is dropped (the
    caller commits)."""
    job.state = "failed"
    job.finished_at = session.execute(text("SELECT clock_timestamp()")).scalar_one()
    head = job_head(job)
    head["error"] = job_problem(job, error, describe)
    job.result = _gzip_json(iter([json.dumps(head, ensure_ascii=False)]))
    job.error_code = error.code
    job.upload = None


def fail_queued_imports(session: Session, user: Any) -> int:
    """Fail every import job of ``user`` still ``queued`` with ``forbidden``
    (``account_deactivated``), at once, and return how many (a deactivation: the caller
    commits). A job already running is stopped by its own check before it stores
    (:func:`import_file`)."""
    from sqlalchemy import select

    from geosignal.models import ImportJob

    jobs = session.scalars(select(ImportJob).where(ImportJob.user_id == user.id, ImportJob.state == "queued")
                           .with_for_update()).all()
    for job in jobs:
        finish_failed(session, job, GeosignalError(
            "forbidden", "the account this import acts for was deactivated before it ran; nothing was saved",
            reason="account_deactivated"))
    return len(jobs)


def fail_lost_imports(session: Session, describe: MessageMaker | None = None) -> int:
    """End ``failed`` (``internal_error``, the file dropped) every import job still ``queued``
    or ``running`` whose queue entry is no longer waiting or running — given up (every attempt
    failed without recording its failure: the database away; or a job that killed its worker
    every time, :func:`geosignal.jobs.retry_stalled`), cancelled, or gone —, and return how
    many (the caller commits). Nothing would ever run it again: it said ``running`` for ever,
    its file kept. A job another transaction holds locked is left to the next check."""
    from sqlalchemy import column, exists, literal_column, table

    from geosignal.models import ImportJob

    queue = table("procrastinate_jobs", column("id"), column("status"))
    lost = session.scalars(select(ImportJob).where(
        ImportJob.state.in_(("queued", "running")),
        ~exists().where(queue.c.id == ImportJob.queue_job_id,
                        queue.c.status.in_([literal_column("'todo'"), literal_column("'doing'")])),
    ).with_for_update(skip_locked=True)).all()
    for job in lost:
        finish_failed(session, job, GeosignalError(
            "internal_error", "the import stopped on an unexpected error and was given up; nothing was saved"),
            describe)
    return len(lost)


#: How many times a job runs its import when its transaction is rolled back by another write at
#: the same moment (:func:`~geosignal.errors.is_write_conflict`), and the pause (s) before the next attempt, times
#: the attempts made.
JOB_ATTEMPTS = 3
JOB_RETRY_PAUSE_S = 0.5


def run_import_job(database: Any, config: Any, import_id: str, area_cache: dict[str, Any] | None = None,
                   describe: MessageMaker | None = None) -> str:
    """Run a queued import job to its end (a job worker calls this) and return its final
    state, ``done`` or ``failed``.

    The import runs in one transaction that also records the result, so the reports and the
    ``done`` state are committed together; progress is written from a second, short
    transaction so that pollers see it. A failure rolls everything back and records
    ``failed`` with the problem document (its ``code``: the import's own, e.g.
    ``unreadable_file`` or ``import_rejected`` with the per-feature report, or
    ``internal_error``). An import rolled back by another write at the same moment (a
    deadlock or a serialization failure, :func:`~geosignal.errors.is_write_conflict`) runs again, up to
    :data:`JOB_ATTEMPTS` times in all. A job already ``done`` or ``failed`` is left alone. An error outside
    the import's own (the connection lost before the final commit, the database restarted)
    records ``failed`` (``internal_error``, the file dropped) in a transaction of its own; when
    even that cannot be written, it is raised, and the queue runs the job again later (its
    transaction rolled back: it starts anew).

    The job acts for the user who queued it, in the capacity kept with it (``acting_as``):
    when it starts, and again before it stores (:func:`import_file`), an account deactivated
    since, or whose role or commune changed, fails it with ``forbidden``
    (:func:`account_problem`) and nothing is stored; so does the token that queued it revoked
    since, or, queued from a signed-in session, the account's password set again since
    (:func:`credential_problem`). ``describe``: a failure's ``message``
    (:data:`MessageMaker`).
    """
    import logging

    key = uuid.UUID(str(import_id))
    try:
        return _run_import_job(database, config, key, area_cache, describe)
    except Exception:  # outside the import's own errors: the connection lost at the end, the database restarted…
        logging.getLogger(__name__).exception("import job %s", import_id)
        if not _record_crash(database, key, describe):
            raise  # nothing recorded either (the database still away): the queue runs the job again later
        return "failed"


def _record_crash(database: Any, key: uuid.UUID, describe: MessageMaker | None = None) -> bool:
    """End the import job ``key`` as ``failed`` (``internal_error``, its file dropped) in a
    transaction of its own, unless it ended meanwhile; whether that could be recorded."""
    from geosignal.models import ImportJob

    try:
        with database.session() as session:
            job = session.get(ImportJob, key, with_for_update=True)
            if job is not None and job.state in ("queued", "running"):
                finish_failed(session, job, GeosignalError(
                    "internal_error", "the import stopped on an unexpected error; nothing was saved"), describe)
                session.commit()
        return True
    except Exception:  # noqa: BLE001 - the database is still away: said by the caller's raise
        return False


def _run_import_job(database: Any, config: Any, key: uuid.UUID, area_cache: dict[str, Any] | None,
                    describe: MessageMaker | None = None) -> str:
    """:func:`run_import_job` itself."""
    import logging
    import time

    from geosignal.models import ImportJob
    from geosignal.services.territory import limits_from_config, service_area

    import_id = str(key)
    with database.session() as session:
        job = session.get(ImportJob, key, with_for_update=True)
        # "running": a worker was killed mid-job (its transaction rolled back) and the queue
        # handed the job out again
        if job is None or job.state not in ("queued", "running"):
            return job.state if job is not None else "failed"
        job.started_at = session.execute(text("SELECT now()")).scalar_one()
        problem = (account_problem(session.get(User, job.user_id), job.options.get("acting_as"))
                   or credential_problem(session, job.user_id, job.options.get("acting_as")))
        if problem is not None:  # deactivated, changed, its token revoked or password reset meanwhile: it does nothing
            finish_failed(session, job, problem, describe)
            session.commit()
            return "failed"
        job.state = "running"
        session.commit()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done not in (0, total) and now - last[0] < 0.5:
            return
        last[0] = now
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE import_jobs SET rows_done = :d, rows_total = :t WHERE id = :id"),
                               {"d": done, "t": total, "id": key})

    with database.session() as session:
        for attempt in range(1, JOB_ATTEMPTS + 1):
            job = session.get(ImportJob, key)
            user = session.get(User, job.user_id)
            options = job.options
            outcome = None
            try:
                problem = account_problem(user, options.get("acting_as"))
                if problem is not None:
                    raise problem
                area = service_area(session, area_cache if area_cache is not None else {},
                                    config["SERVICE_MARGIN_M"])
                outcome = import_file(
                    session, user, job.upload or b"", job.filename, area=area, limits=limits_from_config(config),
                    crs=options.get("crs"), repair=bool(options.get("repair")),
                    column_map=options.get("column_map"), default_network=options.get("default_network"),
                    mode=options.get("mode") or "all", progress=progress, raise_rejected=False,
                    skip_saved_before=bool(options.get("skip_saved_before")),
                    correct_saved_before=bool(options.get("correct_saved_before")), asked_at=job.created_at,
                    acting=options.get("acting_as"),
                )
                error = None
                if outcome.mode == "all" and outcome.refused:
                    error = GeosignalError("import_rejected", f"{outcome.refused} of {outcome.total} features were "
                                           "refused; nothing was saved (correct the file, or choose to keep only "
                                           "the valid features)")
            except GeosignalError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - recorded as a failed job, never lost
                if is_write_conflict(exc) and attempt < JOB_ATTEMPTS:
                    # another write at the same moment (deadlock, serialization failure): the
                    # transaction was rolled back, nothing of it stays; the job runs again
                    logging.getLogger(__name__).warning("import job %s: %s; attempt %d of %d", import_id,
                                                        str(exc).splitlines()[0], attempt + 1, JOB_ATTEMPTS)
                    session.rollback()
                    time.sleep(JOB_RETRY_PAUSE_S * attempt)
                    continue
                logging.getLogger(__name__).exception("import job %s", import_id)
                error = GeosignalError("internal_error", "the import stopped on an unexpected error; nothing was "
                                       "saved")
            break
        if error is not None:
            session.rollback()
            job = session.get(ImportJob, key)
        job.state = "failed" if error is not None else "done"
        job.finished_at = session.execute(text("SELECT clock_timestamp()")).scalar_one()
        if outcome is not None:
            job.rows_total = outcome.total
            job.rows_done = outcome.total
        head = job_head(job)
        if error is not None:
            head["error"] = job_problem(job, error, describe)
        if outcome is not None:
            body = outcome.iter_json(head)
        else:
            body = iter([json.dumps(head, ensure_ascii=False)])
        job.result = _gzip_json(body)
        job.error_code = error.code if error is not None else None
        job.upload = None
        session.commit()
        return job.state
