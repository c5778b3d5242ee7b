"""White-zone reports: create, read and list, with who-sees-what enforced here.

Geometries arrive as :class:`~geosignal.services.intake.ReportInput` (already parsed,
validated and in EPSG:4326) and leave as RFC 7946 GeoJSON Features (``[lon, lat]``,
exterior rings counter-clockwise).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import Select, func, insert, select, text
from sqlalchemy.orm import Session

from geosignal import contract, policy, workflow
from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, rfc7946_oriented
from geosignal.models import Commune, IdempotencyKey, Report, User
from geosignal.params import whole_number
from geosignal.services import audit, notifications
from geosignal.services.communes import COMMUNES_LOCK_KEY, HOME_COMMUNE_SQL, hold_communes
from geosignal.services.intake import ReportInput

BRUSSELS = ZoneInfo("Europe/Brussels")

#: Report columns a representative fills (the contract's writable properties stored as
#: columns; ``radius`` only shapes the geometry), in contract order.
ATTRIBUTES: tuple[str, ...] = tuple(n for n in contract.names(contract.INPUT) if n != "radius")

MAX_PAGE = 1000


def iso(dt: datetime | None) -> str | None:
    """Return an aware datetime as ISO 8601 in Brussels time with its offset (None stays None);
    the contract's format (:func:`geosignal.contract.format_datetime`)."""
    return contract.format_datetime(dt)


def _feature_columns() -> tuple:
    g = Report.geometry
    return (
        Report,
        Commune.name_fr,
        func.ST_AsGeoJSON(rfc7946_oriented(g), 9).label("geojson"),
        func.ST_Area(func.ST_Transform(g, LAMBERT72)).label("area_m2"),
        func.ST_Length(func.ST_Transform(g, LAMBERT72)).label("length_m"),
    )


def _base_query() -> Select:
    return select(*_feature_columns()).join(Commune, Commune.nis_code == Report.commune_nis)


def to_feature(report: Report, commune_name: str, geojson: str, area: float, length: float) -> dict[str, Any]:
    """Return a report as a GeoJSON Feature: ``id`` = UUID string, ``geometry`` the GeoJSON
    text given (EPSG:4326, :data:`~geosignal.contract.API_COORDINATE_DECIMALS` decimals) and
    ``properties`` the contract's API properties (:func:`geosignal.contract.api_properties`:
    ``area`` in m² and ``length`` in m, EPSG:31370, written for zones and lines only)."""
    geometry = json.loads(geojson)
    source = contract.Source(report, commune_name, contract.geometry_kind(geometry["type"]), area, length)
    return {"type": "Feature", "id": str(report.id), "geometry": geometry,
            "properties": contract.api_properties(source)}


def _row_feature(row: Any) -> dict[str, Any]:
    return to_feature(row.Report, row.name_fr, row.geojson, row.area_m2, row.length_m)


def not_your_commune(geometry: Any, nis: str, name: str, user_commune: str | None, *, now: bool = False,
                     where: str | None = "/geometry") -> GeosignalError:
    """Return the ``not_your_commune`` error (403) of a geometry (shapely, EPSG:4326) whose home
    commune ``nis`` (``name``) is not ``user_commune``. The detail names what was given — a
    point (or points) lies in a commune; a line (a road stretch) or a zone lies mainly in one —
    and ``now`` says it is an edit's new geometry. ``where``: a JSON pointer (default
    ``/geometry``) or an upload's feature or row."""
    dim = int(shapely.get_dimensions(geometry))
    verb = "now lies" if now else "lies"
    single = False
    if dim == 0:
        single = shapely.get_num_geometries(shapely.extract_unique_points(geometry)) == 1
        what = f"the point {verb}" if single else f"the points {'now ' if now else ''}lie mainly"
    else:
        what = f"the {'line (road stretch)' if dim == 1 else 'zone'} {verb} mainly"
    # kind "point": one point lies wholly in that commune (the pages say so, not « mainly »)
    return GeosignalError("not_your_commune", f"{what} in {name} ({nis}); you represent {user_commune}",
                          where=where, commune_nis=nis, commune_name=name, **({"kind": "point"} if single else {}))


#: A report identical to one the same user filed this many seconds ago is a probable
#: duplicate (double click without Idempotency-Key): the first one is returned instead.
DUPLICATE_WINDOW_S = 10


def create_report(session: Session, user: User, report_input: ReportInput, *,
                  status: str = "submitted", copied_from: tuple[uuid.UUID, str] | None = None,
                  ) -> tuple[dict[str, Any], bool]:
    """Store one report and return (its Feature, True); the caller commits.

    ``copied_from``: (id, reference) of the rejected or withdrawn report this one was filed
    from (:func:`copy_source`): the creation names it, and the original's history gets a
    ``copy`` event naming the new report.

    ``status``: ``submitted`` (default) or ``draft`` (:data:`geosignal.workflow.INITIAL_STATUSES`;
    else ``invalid_attribute`` 422 at ``/properties/status``). The creation is journalled
    (:func:`geosignal.services.audit.record`, action ``create``).

    The report's commune is the one holding the largest part of its geometry (the rule of
    :func:`~geosignal.services.communes.commune_of`). When the same user filed the same
    geometry with the same attributes less than :data:`DUPLICATE_WINDOW_S` seconds ago, in
    ``status`` and still in it, nothing is stored and (that report's Feature, False) is
    returned.
    Raises ``outside_service_area`` (422) when no commune intersects it, and
    ``not_your_commune`` (403, at ``/geometry``) when a representative's geometry lies (mainly)
    in another commune (:func:`not_your_commune`).

    Concurrent requests of one user carrying the same report are serialised by a transaction
    lock on (user, :func:`duplicate_identity`), taken first: two at once store one report.
    Then commune assignment and duplicate detection in one query, and the INSERT returning
    what the Feature needs. The stored per-commune figures are brought up
    to date by the ``reports`` triggers inside the INSERT (see
    :mod:`geosignal.services.aggregation.stored`).
    """
    if status not in workflow.INITIAL_STATUSES:
        raise GeosignalError("invalid_attribute", f"a new report is {' or '.join(workflow.INITIAL_STATUSES)}",
                             where="/properties/status")
    ewkt = f"SRID=4326;{report_input.geometry.wkt}"
    props = report_input.properties
    values = {k: props[k] for k in ATTRIBUTES if props.get(k) is not None}
    # the same report sent twice at once (a double click): the second waits for the first's
    # commit, then its duplicate check (a later statement, a later snapshot) sees it; the
    # communes lock (shared, first: a load of communes under way ends before the home is read)
    session.execute(_DUPLICATE_LOCK, {"k": f"{user.id}:{duplicate_identity(report_input)}",
                                      "communes": COMMUNES_LOCK_KEY})
    nis, name, duplicate = session.execute(_ASSIGN_AND_DUPLICATE, {
        "g": ewkt, "srid": LAMBERT72, "uid": user.id, "window": DUPLICATE_WINDOW_S, "status": status,
        **{name: props.get(name) for name in ATTRIBUTES},
        "technologies": list(props.get("technologies") or []), "operators": list(props.get("operators") or []),
        "description": props.get("description") or "",
    }).one()
    if nis is None:
        raise GeosignalError("outside_service_area", "the geometry does not touch any commune served")
    if not policy.may_write_in_commune(user, nis):
        raise not_your_commune(report_input.geometry, nis, name, user.commune_nis)
    if duplicate is not None:
        return get_report(session, user, duplicate), False
    g = Report.geometry
    row = session.execute(
        insert(Report)
        .values(id=uuid.uuid4(), geometry=ewkt, commune_nis=nis, reporter_id=user.id, status=status, **values)
        .returning(Report, func.ST_AsGeoJSON(rfc7946_oriented(g), 9),
                   func.ST_Area(func.ST_Transform(g, LAMBERT72)), func.ST_Length(func.ST_Transform(g, LAMBERT72)))
    ).one()
    copied = {"copied_from": str(copied_from[0]), "copied_reference": copied_from[1]} if copied_from else None
    audit.record(session, "create", user, report_ids=[row[0].id], to_status=status, details=copied)
    if copied_from:
        audit.record(session, "copy", user, report_ids=[copied_from[0]],
                     details={"copy_id": str(row[0].id), "copy_reference": row[0].reference})
    notifications.notify_created(session, [row[0].id], user)
    return to_feature(row[0], name, row[1], row[2], row[3]), True


#: Waits for any transaction of the same user filing the same report (see :func:`create_report`).
_DUPLICATE_LOCK = text("SELECT pg_advisory_xact_lock_shared(:communes), "
                       "pg_advisory_xact_lock(hashtextextended('duplicate:' || :k, 0))")
#: Waits for any transaction of the same user using the same ``Idempotency-Key``.
_IDEMPOTENCY_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('idempotency:' || :k, 0))")
#: Longest ``Idempotency-Key`` (the column's size).
MAX_IDEMPOTENCY_KEY = 200


def attribute_key(props: Mapping[str, Any]) -> tuple:
    """The attributes two reports must share to be duplicates, as stored (empty lists and
    description for absent ones), from a report's properties or a row of ``reports``. The
    lists (``technologies``, ``operators``) are sets — a value named twice is refused — so
    their order is not part of the key: « Orange, Proximus » repeats « Proximus, Orange »."""
    out = []
    for name in ATTRIBUTES:
        value = props.get(name)
        if name in ("technologies", "operators"):
            value = tuple(sorted(value or ()))
        elif name == "description":
            value = value or ""
        elif isinstance(value, datetime):
            value = value.astimezone(UTC)  # one instant, however its offset was written
        out.append(value)
    return tuple(out)


def attribute_key_texts(props: Sequence[Mapping[str, Any]]) -> list[str]:
    """``repr(attribute_key(p))`` for each of ``props`` (same order, the very same text), built
    a column at a time: each distinct value of an attribute is normalised and written once
    (a file's rows share most of theirs: 50,000 rows in a third of the time)."""
    if not props:
        return []
    columns = [_column_texts([p.get(name) for p in props], k) for k, name in enumerate(ATTRIBUTES)]
    return ["(" + ", ".join(parts) + ")" for parts in zip(*columns, strict=True)]


def _column_texts(values: list[Any], k: int) -> list[str]:
    """The text of each value of attribute ``ATTRIBUTES[k]`` as :func:`attribute_key` writes it."""
    name = ATTRIBUTES[k]

    def written(value: Any) -> str:
        return repr(attribute_key({name: value})[k])

    if values.count(None) == len(values):  # an attribute no row gives (C speed)
        return [written(None)] * len(values)
    seen: dict[tuple, str] = {}
    out: list[str] = []
    try:
        for value in values:
            cls = value.__class__  # by type too: 1, 1.0 and True are equal keys but not the same text
            key = (cls, tuple(value)) if cls is list else (cls, value)
            text_ = seen.get(key)
            if text_ is None:
                text_ = seen[key] = written(value)
            out.append(text_)
    except TypeError:  # a value that cannot be a key: each written
        return [written(value) for value in values]
    return out


def duplicate_identity(report_input: ReportInput) -> str:
    """What two reports of one user must share to be duplicates, as a short digest: the
    geometry's dimension and bounding box (shared by every spelling of one shape the duplicate
    check's ``ST_Equals`` takes as equal: vertex order and ring start, a MultiPolygon of one
    part and its Polygon, a vertex added on an edge — the normalised WKB told these apart, and
    two of them sent at once were both stored) and :func:`attribute_key`. Equal for every
    resubmission; two reports of one box and attributes only wait for each other."""
    geometry = report_input.geometry
    digest = hashlib.blake2b(digest_size=16)
    digest.update(struct.pack("<b4d", shapely.get_dimensions(geometry), *(v + 0.0 for v in geometry.bounds)))
    digest.update(repr(attribute_key(report_input.properties)).encode("utf-8", "backslashreplace"))
    return digest.hexdigest()


#: The home commune of a geometry (largest part: area, length or number of points measured in
#: EPSG:31370; ties to the smallest NIS code) and the user's probable duplicate, in one query.
_ASSIGN_AND_DUPLICATE = text(f"""
    WITH g AS (SELECT ST_GeomFromEWKT(:g) AS g),
    home AS (SELECT c.nis_code, c.name_fr {HOME_COMMUNE_SQL})
    SELECT (SELECT nis_code FROM home), (SELECT name_fr FROM home),
      (SELECT r.id FROM reports r, g
       WHERE r.reporter_id = :uid AND r.created_at > now() - make_interval(secs => :window)
         AND ST_Equals(r.geometry, g.g)
         AND r.network IS NOT DISTINCT FROM CAST(:network AS varchar)
         -- the lists as sets (each value once: equal when each holds the other), in any order
         AND r.technologies @> CAST(:technologies AS varchar[]) AND r.technologies <@ CAST(:technologies AS varchar[])
         AND r.operators @> CAST(:operators AS varchar[]) AND r.operators <@ CAST(:operators AS varchar[])
         AND r.issue IS NOT DISTINCT FROM CAST(:issue AS varchar)
         AND r.setting IS NOT DISTINCT FROM CAST(:setting AS varchar)
         AND r.households_affected IS NOT DISTINCT FROM CAST(:households_affected AS integer)
         AND r.businesses_affected IS NOT DISTINCT FROM CAST(:businesses_affected AS integer)
         AND r.description = CAST(:description AS text)
         AND r.observed_at IS NOT DISTINCT FROM CAST(:observed_at AS timestamptz)
         -- in the status it was filed in and still is (a draft is no duplicate of a report
         -- filed, and a report withdrawn since, filed again, is a new one)
         AND r.status = CAST(:status AS varchar)
       ORDER BY r.seq LIMIT 1)
""")


def _visible(stmt: Select, user: User) -> Select:
    """Restrict ``stmt`` to the reports ``user`` may read (:func:`geosignal.policy.may_read_report`)."""
    if policy.sees_all_communes(user):
        return stmt
    return stmt.where(Report.commune_nis == user.commune_nis)


def copy_source(session: Session, user: User, report_id: str) -> tuple[uuid.UUID, str]:
    """The (id, reference) of the report ``user`` files a new one from (the map form's
    ``copie``): one they may copy (:func:`geosignal.policy.may_copy_report`: rejected or
    withdrawn, of their commune). Raises ``not_found`` (404) for a report they do not read,
    ``forbidden`` (403) for one they may not copy."""
    feature = get_report(session, user, report_id)
    props = feature["properties"]
    if not policy.may_copy_report(user, props["commune_nis"], props["status"]):
        raise GeosignalError("forbidden", "only a rejected or withdrawn report of your commune can be copied")
    return uuid.UUID(feature["id"]), props["reference"]


def copies_of(session: Session, report_id: str | uuid.UUID, user: User | None = None) -> list[tuple[str, str]]:
    """The reports filed anew from ``report_id`` (a rejected or withdrawn report copied from
    its page), oldest first, as ``(id, reference)``, from the audit journal's ``copy`` events:
    what its page names before anybody files it again. With ``user``, only the copies they
    may read (an admin may file a copy in another commune). One statement."""
    rows = session.execute(text(
        "SELECT e.details ->> 'copy_id', e.details ->> 'copy_reference', r.commune_nis FROM audit_events e "
        "LEFT JOIN reports r ON r.id = CAST(e.details ->> 'copy_id' AS uuid) "
        "WHERE e.report_id = :id AND e.action = 'copy' ORDER BY e.id"), {"id": str(report_id)}).all()
    return [(r[0], r[1]) for r in rows if user is None or policy.may_read_report(user, r[2])]


def awaiting_answer(session: Session, user: User, limit: int = 20) -> tuple[int, list[tuple[str, str]]]:
    """Return the reports of the representative's commune on which the referent asked a
    question (status ``needs_info``, the ``answer`` transition is theirs): their number and the
    oldest ``limit`` of them as ``(id, reference)``. Nobody else answers: ``(0, [])``. One
    statement."""
    if user is None or user.role != "representative":
        return 0, []
    rows = session.execute(text(
        "SELECT id, reference, count(*) OVER () FROM reports WHERE commune_nis = :nis AND status = 'needs_info' "
        "ORDER BY seq LIMIT :limit"), {"nis": user.commune_nis, "limit": limit}).all()
    return (rows[0][2] if rows else 0), [(str(r[0]), r[1]) for r in rows]


#: How far back a representative's list tells of the referent's decisions (days).
RECENT_DECISION_DAYS = 14


def recent_decisions(session: Session, user: User, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
    """Return what the referent decided on the representative's commune's reports in the last
    :data:`RECENT_DECISION_DAYS` days, for reports still in the status decided
    (:data:`geosignal.workflow.REFERENT_DECISIONS`): their number and the latest ``limit`` as
    ``{id, reference, status, reason (None without), at}`` (aware datetime), newest first.
    The reports are those the commune holds now (``reports.commune_nis``), not the commune the
    journal recorded when deciding. Nobody else is told: ``(0, [])``. One statement, from the
    audit journal."""
    if user is None or user.role != "representative":
        return 0, []
    rows = session.execute(text("""
        SELECT id, reference, status, reason, at, count(*) OVER () AS n FROM (
          SELECT DISTINCT ON (r.id) r.id, r.reference, r.status, e.reason, e.at, e.id AS event
          FROM audit_events e JOIN reports r ON r.id = e.report_id AND r.status = e.to_status
          -- the commune that holds the report now (a communes load may have moved it since)
          WHERE r.commune_nis = :nis AND e.at > now() - make_interval(days => :days)
            AND e.to_status = ANY(CAST(:statuses AS varchar[])) AND e.actor_role IN ('referent', 'admin')
          ORDER BY r.id, e.id DESC) latest
        ORDER BY at DESC, event DESC LIMIT :limit"""),
        {"nis": user.commune_nis, "days": RECENT_DECISION_DAYS, "statuses": list(workflow.REFERENT_DECISIONS),
         "limit": limit}).all()
    return (rows[0].n if rows else 0), [{"id": str(r.id), "reference": r.reference, "status": r.status,
                                          "reason": r.reason, "at": r.at} for r in rows]


def get_report(session: Session, user: User, report_id: uuid.UUID | str) -> dict[str, Any]:
    """Return one report the user may see as a Feature; ``not_found`` (404) otherwise."""
    try:
        rid = report_id if isinstance(report_id, uuid.UUID) else uuid.UUID(str(report_id))
    except ValueError:
        raise GeosignalError("not_found", f"no report {report_id}") from None
    row = session.execute(_visible(_base_query().where(Report.id == rid), user)).first()
    if row is None:
        raise GeosignalError("not_found", f"no report {report_id}")
    return _row_feature(row)


def get_report_for_update(session: Session, user: User, stored: dict[str, Any]) -> dict[str, Any]:
    """Lock the report ``stored`` (a Feature :func:`get_report` returned) ``FOR UPDATE`` and
    return it as it is under the lock: ``stored`` itself when its ``revision`` is still the
    row's, else read again (a change committed between the read and the lock). An edit merges
    into this copy, so that a change it did not send is never written back over (``If-Match:
    *`` takes any revision). ``not_found`` (404) when the report is gone."""
    hold_communes(session)  # before the row lock (a load of communes re-homes reports)
    seq = session.execute(text("SELECT change_seq FROM reports WHERE id = :id FOR UPDATE"),
                          {"id": uuid.UUID(stored["id"])}).scalar_one_or_none()
    if seq is None:
        raise GeosignalError("not_found", f"no report {stored['id']}")
    return stored if seq == stored["properties"].get("revision") else get_report(session, user, stored["id"])


@dataclass(frozen=True)
class Page:
    """One page of reports: Features in stable order and the cursor of the next page."""

    features: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(seq: int) -> str:
    """Return an opaque cursor pointing after the report of insertion order ``seq``."""
    return base64.urlsafe_b64encode(f"r{seq}".encode()).decode().rstrip("=")


def count_reports(session: Session, user: User, status: str) -> int:
    """Return how many reports of ``status`` the user may see (one statement)."""
    stmt = _visible(select(func.count()).select_from(Report).where(Report.status == status), user)
    return int(session.scalar(stmt) or 0)


def decode_cursor(cursor: str) -> int:
    """Return the ``seq`` of a cursor; ``invalid_request`` (400) when malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        seq = whole_number(raw[1:]) if raw.startswith("r") else None
        if seq is None:
            raise ValueError(raw)
        return seq
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise GeosignalError("invalid_request", "cursor is malformed", where="cursor") from None


def list_reports(
    session: Session,
    user: User,
    *,
    commune: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    newest_first: bool = False,
    hide_statuses: tuple[str, ...] = (),
) -> Page:
    """Return the reports the user may see in insertion order (``newest_first``: the newest
    first, what the reports page lists), ``limit`` at a time (1–1000); ``cursor``: the page's
    ``next_cursor`` before, for the next ``limit``.

    ``bbox`` is (min lon, min lat, max lon, max lat) in EPSG:4326; ``commune`` a NIS code;
    ``hide_statuses``: statuses left out (the page's withdrawn reports).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise GeosignalError("invalid_request", f"limit must be 1 to {MAX_PAGE}", where="limit")
    stmt = _visible(_base_query(), user)
    if commune:
        stmt = stmt.where(Report.commune_nis == commune)
    if status:
        stmt = stmt.where(Report.status == status)
    if hide_statuses:
        stmt = stmt.where(Report.status.not_in(hide_statuses))
    if bbox:
        stmt = stmt.where(func.ST_Intersects(Report.geometry, func.ST_MakeEnvelope(*bbox, 4326)))
    if cursor:
        after = decode_cursor(cursor)
        stmt = stmt.where(Report.seq < after if newest_first else Report.seq > after)
    rows = session.execute(stmt.order_by(Report.seq.desc() if newest_first else Report.seq).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].Report.seq) if more else None
    return Page([_row_feature(r) for r in rows], next_cursor)


def request_fingerprint(doc: Any, **options: Any) -> str:
    """Return the SHA-256 hex digest identifying a request for idempotency: what it means,
    not how it was written — the parsed body ``doc`` as canonical JSON (members sorted, no
    spaces: a client that serialises the same Feature again, in another order, sends the same
    request) and the ``options`` that change what is stored (``crs``, ``repair``, ``status``:
    the same body with another ``crs`` is another request). Numbers count by value, as
    :func:`geosignal.contract.same_json_value` compares them: ``1.0`` is ``1``."""
    def canonical(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        return value

    text = json.dumps([canonical(doc), options], sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def replay_idempotent(session: Session, user: User, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Return the stored first result for ``key`` (None when new).

    First waits for any transaction of the same user holding the same key (a lock held to
    its commit): a request sent again before the first is answered gets the first's result
    instead of a conflict. Raises ``invalid_request`` (400, ``where`` = ``Idempotency-Key``)
    for a key of more than :data:`MAX_IDEMPOTENCY_KEY` characters, with characters other
    than printable ASCII (RFC 9110 field values) or with a comma (the header sent more than
    once arrives joined as ``"a, b"``: which of its keys is meant cannot be told),
    ``idempotency_key_reused`` (422, ``where`` = ``Idempotency-Key``: the header) when the key
    came with a different body.
    """
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        raise GeosignalError("invalid_request", f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII "
                             f"characters; got {len(key)} characters.", where="Idempotency-Key")
    if "," in key:
        raise GeosignalError("invalid_request", "Idempotency-Key must be sent once, as one key without a comma; "
                             f"got {key!r} (a header sent twice arrives joined by a comma).", where="Idempotency-Key")
    session.execute(_IDEMPOTENCY_LOCK, {"k": f"{user.id}:{key}"})
    stored = session.get(IdempotencyKey, (user.id, key))
    if stored is not None and stored.request_hash != fingerprint:
        raise GeosignalError("idempotency_key_reused", "this Idempotency-Key was used with another body",
                             where="Idempotency-Key")
    return stored


def remember_idempotent(
    session: Session, user: User, key: str, fingerprint: str, status: int, body: dict, location: str | None
) -> None:
    """Store the first result of a POST under its ``Idempotency-Key`` (the caller commits)."""
    session.add(
        IdempotencyKey(user_id=user.id, key=key, request_hash=fingerprint, response_status=status,
                       response_body=body, location=location)
    )


def set_status(session: Session, user: User, report_id: uuid.UUID | str, status: str,
               reason: str | None = None, *, if_match: str | None = None) -> dict[str, Any]:
    """Move a report to ``status`` (the caller commits) and return it as a Feature: a thin
    alias of :func:`geosignal.services.workflow.transition`, obeying the same table, rights
    and errors (``not_found`` 404, ``invalid_transition`` 409, ``forbidden`` 403,
    ``reason_required`` 422, ``precondition_failed`` 412)."""
    from geosignal.services import workflow as workflow_service

    return workflow_service.transition(session, report_id, status, user, reason, if_match=if_match)


#: Locks one report and reads what an edit compares: the stored attributes, the geometry as
#: GeoJSON (EPSG:4326, RFC 7946 orientation) and as EWKB (kept byte for byte when unchanged).
_LOCK_FOR_EDIT = text("""
    SELECT r.id, r.status, r.commune_nis, r.change_seq,
           ST_AsGeoJSON(ST_ForcePolygonCCW(r.geometry), 9) AS geojson
    FROM reports r WHERE r.id = :id FOR UPDATE""")

_HOME = text(f"""
    WITH g AS (SELECT ST_GeomFromEWKT(:g) AS g),
    home AS (SELECT c.nis_code, c.name_fr {HOME_COMMUNE_SQL})
    SELECT (SELECT nis_code FROM home), (SELECT name_fr FROM home)""")


#: A geometry sent back of the same type, with as many vertices, as close as this (m, EPSG:31370)
#: to the stored one is the stored one (a round trip through GeoJSON's decimals; the ring's
#: start, its orientation, a line's direction do not count): it is kept byte for byte and no
#: geometry change is recorded. Close is: each vertex of the canonical outlines (``ST_Normalize``
#: of both put on the API's 9-decimal grid first, so that the rounding cannot start a ring at
#: another corner — x equal to 1e-16°) within it of its pair (linear in the vertices); failing
#: that (another rounding), for a geometry of at most
#: :data:`SAME_GEOMETRY_COMPARED` positions, no vertex nor edge midpoint of one farther than it
#: from the other's outline (a Hausdorff distance densified by ½: its vertices alone took A→C→B
#: for A→B→C, and dropped the edit). Beyond that, such a shape is recorded as an edit (the
#: densified distance costs the product of the vertex counts: 5 s for 9,000 positions).
SAME_GEOMETRY_M = 0.001
SAME_GEOMETRY_COMPARED = 2000

_SAME_GEOMETRY = text("""
    SELECT GeometryType(n.g) = GeometryType(r.geometry) AND ST_NPoints(n.g) = ST_NPoints(r.geometry)
           AND ((SELECT count(*) = ST_NPoints(r.geometry) AND coalesce(bool_and(ST_Distance(a.geom, b.geom) <= :tol), true)
                 FROM ST_DumpPoints(ST_Transform(ST_Normalize(ST_SnapToGrid(n.g, 1e-9)), :srid)) a
                 JOIN ST_DumpPoints(ST_Transform(ST_Normalize(ST_SnapToGrid(r.geometry, 1e-9)), :srid)) b USING (path))
                OR (ST_NPoints(n.g) <= :compared
                    AND ST_HausdorffDistance(ST_Transform(n.g, :srid), ST_Transform(r.geometry, :srid), 0.5) <= :tol))
    FROM (SELECT ST_GeomFromEWKT(:g) AS g) n, reports r WHERE r.id = :id""")


def current_input(feature: dict[str, Any]) -> dict[str, Any]:
    """Return the writable properties of a report's API Feature (:data:`ATTRIBUTES`, nulls
    and empty lists left out): what an edit starts from."""
    props = feature["properties"]
    return {k: props[k] for k in ATTRIBUTES if props.get(k) not in (None, [], "")}


def edit_values(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The columns an edit writes from a report's validated properties: every one of
    :data:`ATTRIBUTES`, the vocabulary lists as lists and no description as ``""``."""
    values: dict[str, Any] = {k: properties.get(k) for k in ATTRIBUTES}
    values["technologies"] = list(values.get("technologies") or [])
    values["operators"] = list(values.get("operators") or [])
    values["description"] = values.get("description") or ""
    return values


def attribute_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (before, after): the values of :data:`ATTRIBUTES` that differ between ``old``
    and ``new`` (:func:`geosignal.contract.same_value`), JSON-ready as an ``edit`` event
    journals them (a datetime as the contract writes it, Brussels time)."""
    def written(value: Any) -> Any:
        return contract.format_datetime(value) if isinstance(value, datetime) else value

    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for k in ATTRIBUTES:
        was, now = written(old.get(k)), written(new.get(k))
        if not contract.same_value(k, was, now):
            before[k], after[k] = was, now
    return before, after


def edit_report(session: Session, user: User, report_id: uuid.UUID | str, report_input: ReportInput, *,
                if_match: str | None, geometry_given: bool = True) -> dict[str, Any]:
    """Replace a report's geometry and attributes with ``report_input`` (already through the
    same intake validation as a new report: :func:`~geosignal.services.intake.parse_report_feature`)
    and return its Feature; the caller commits.

    ``if_match``: the ``If-Match`` value, required (``precondition_required`` 428 when None),
    compared with the report's ETag once the row is locked ``FOR UPDATE``
    (``precondition_failed`` 412, nothing changed, when stale). ``geometry_given``: False keeps
    the stored geometry byte for byte (an edit of attributes only).

    Allowed to the report's commune's representative and admins while the report is
    ``draft``, ``submitted`` or ``needs_info`` (:func:`geosignal.policy.may_edit_report`):
    ``not_found`` 404 for a report the user cannot read, ``forbidden`` 403 for the referent or
    an admin-only rule, ``not_editable`` 409 in another status, ``not_your_commune`` 403 when
    the new geometry lies mainly in another commune, ``outside_service_area`` 422.

    One UPDATE; its statement triggers recompute the stored figures of the old and new
    geometry's cells. One ``edit`` audit event holds the changed values before and after
    (geometry as GeoJSON, EPSG:4326). An edit that changes nothing writes nothing.
    """
    from geosignal.services import workflow as workflow_service

    if if_match is None:
        raise GeosignalError("precondition_required", "send If-Match with the ETag of the report you edited")
    try:
        rid = report_id if isinstance(report_id, uuid.UUID) else uuid.UUID(str(report_id))
    except ValueError:
        raise GeosignalError("not_found", f"no report {report_id}") from None
    hold_communes(session)  # before the row lock (a load of communes re-homes reports)
    row = session.execute(_LOCK_FOR_EDIT, {"id": rid}).first()
    if row is None or not policy.may_read_report(user, row.commune_nis):
        raise GeosignalError("not_found", f"no report {report_id}")
    workflow_service.require_if_match(if_match, row.change_seq)
    if not policy.may_write_in_commune(user, row.commune_nis):
        raise GeosignalError("forbidden", "the commune's representative edits its reports; the referent asks "
                             "questions (needs_info)")
    if row.status not in workflow.EDITABLE_STATUSES:
        raise GeosignalError("not_editable", f"a report {row.status} can no longer be edited "
                             f"(editable: {', '.join(workflow.EDITABLE_STATUSES)})", status=409)
    before_feature = get_report(session, user, rid)
    values = edit_values(report_input.properties)
    nis = row.commune_nis
    # the same geometry (within SAME_GEOMETRY_M) is kept as stored, and with it the home
    # commune it was given: measured again after a boundary reload, it could name another
    # commune than the row's, for a geometry that did not move
    moved = geometry_given and not session.execute(_SAME_GEOMETRY, {
        "g": f"SRID=4326;{report_input.geometry.wkt}", "id": rid, "srid": LAMBERT72, "tol": SAME_GEOMETRY_M,
        "compared": SAME_GEOMETRY_COMPARED}).scalar()
    if moved:
        ewkt = f"SRID=4326;{report_input.geometry.wkt}"
        nis, name = session.execute(_HOME, {"g": ewkt, "srid": LAMBERT72}).one()
        if nis is None:
            raise GeosignalError("outside_service_area", "the geometry does not touch any commune served")
        if not policy.may_write_in_commune(user, nis):
            raise not_your_commune(report_input.geometry, nis, name, user.commune_nis, now=True)
        values["geometry"] = ewkt
        values["commune_nis"] = nis
    before, after = attribute_changes(before_feature["properties"], values)
    if moved:
        before["geometry"] = json.loads(row.geojson)
        after["geometry"] = json.loads(session.execute(
            text("SELECT ST_AsGeoJSON(ST_ForcePolygonCCW(ST_GeomFromEWKT(:g)), 9)"),
            {"g": values["geometry"]}).scalar())
        if nis != row.commune_nis:
            before["commune_nis"], after["commune_nis"] = row.commune_nis, nis
    if not after and not before:
        return before_feature
    columns = {k: v for k, v in values.items() if k in ("geometry", "commune_nis") or k in before}
    session.execute(
        text("UPDATE reports SET " + ", ".join(
            f"{k} = ST_GeomFromEWKT(:{k})" if k == "geometry" else f"{k} = :{k}" for k in columns)
            + ", updated_at = now() WHERE id = :id"),
        {**columns, "id": rid})
    audit.record(session, "edit", user, report_ids=[rid], before=before, after=after)
    return get_report(session, user, rid)
