"""Which reports the figures count: the filters, their parsing, and their SQL condition."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geosignal import workflow
from geosignal.errors import GeosignalError
from geosignal.geo import LINE_GRID_M, LINE_REACH_M  # noqa: F401 - the figures' line grid, named here too
from geosignal.params import parse_day
from geosignal.vocab import ISSUES, NETWORKS, OPERATORS, STATUSES, TECHNOLOGIES

BRUSSELS = ZoneInfo("Europe/Brussels")

#: Statuses counted by default (and in the stored figures): a white zone a commune vouches for
#: that nobody has closed as fixed. Not counted: ``draft`` (not sent yet), ``rejected``,
#: ``withdrawn``, ``resolved``. Changing this tuple changes the stored SQL: a new migration
#: must re-install it (tests/test_frozen_sql.py, tests/test_concurrency.py).
COUNTED_STATUSES: tuple[str, ...] = ("submitted", "needs_info", "validated", "transmitted", "not_resolved")

#: Breakdown dimensions and their vocabularies (keys of ``breakdown``).
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "network": NETWORKS,
    "technology": TECHNOLOGIES,
    "operator": OPERATORS,
    "issue": ISSUES,
    "status": STATUSES,
}


ESTIMATE_NOTE = (
    "Estimation : part de la surface communale en zone blanche × population de la commune "
    "(Statbel, population légale au 1er janvier {year}) ; suppose une population répartie "
    "uniformément. Celle du territoire est la somme de celles de ses communes."
)


@dataclass(frozen=True)
class StatsFilters:
    """Which reports the figures count.

    ``statuses`` (default :data:`COUNTED_STATUSES`); ``network``, ``technology``,
    ``operator``, ``issue``: one vocabulary value each (a report matches a technology or an
    operator when its list holds it); ``date_from`` / ``date_to``: inclusive days (Brussels
    time) compared with ``observed_at``, or ``created_at`` when no observation date was given.

    ``own_commune``: not a filter asked but who asks (:meth:`scoped`): a representative's NIS
    code, when other communes' reports count only in the counted statuses; None: every report.
    """

    statuses: tuple[str, ...] = COUNTED_STATUSES
    network: str | None = None
    technology: str | None = None
    operator: str | None = None
    issue: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    own_commune: str | None = None

    @property
    def is_default(self) -> bool:
        """Whether the stored aggregates answer for these filters (no filter given; who asks,
        ``own_commune``, aside)."""
        return replace(self, own_commune=None) == NO_FILTERS

    def scoped(self, own_commune: str | None) -> StatsFilters:
        """These filters as ``own_commune``'s representative reads them
        (:func:`geosignal.policy.figures_scope`; None: the referent, admins, unchanged).

        A draft, a rejected, withdrawn or resolved report is its commune's business: another
        commune's report counts only in :data:`COUNTED_STATUSES` — in counts, in the
        ``status`` breakdown, in areas and in what a sheet draws. Computed live (any filter
        given), :func:`where_sql` leaves them out; the stored figures count them only in the
        ``status`` breakdown, which :func:`hide_private_statuses` empties of them."""
        return self if own_commune is None else replace(self, own_commune=own_commune)

    def query(self) -> dict[str, str]:
        """Return the query arguments that give these filters back through
        :func:`parse_filters` (none for the default figures): ``status`` only when it is not
        the counted statuses (``all`` for every filed status), dates as ``YYYY-MM-DD``."""
        args: dict[str, str] = {}
        if self.statuses != COUNTED_STATUSES:
            args["status"] = "all" if self.statuses == workflow.FILED_STATUSES else ",".join(self.statuses)
        for key in ("network", "technology", "operator", "issue"):
            if getattr(self, key):
                args[key] = getattr(self, key)
        if self.date_from:
            args["from"] = self.date_from.isoformat()
        if self.date_to:
            args["to"] = self.date_to.isoformat()
        return args

    def name_suffix(self) -> str:
        """The filters in a downloaded file's name (``_status-validated_network-mobile_from-2026-01-01``;
        nothing for the default figures): a table or sheet saved from a filtered view says what
        it counts. Values are vocabulary codes and dates; a ``/`` (``Telenet/BASE``) becomes
        ``-``."""
        parts = [f"{k}-{'+'.join(v) if isinstance(v, list) else v}" for k, v in self.as_dict().items()
                 if v and k != "own_commune" and (k != "status" or self.statuses != COUNTED_STATUSES)]
        return "".join("_" + re.sub(r"[^A-Za-z0-9+.-]", "-", p) for p in parts)

    def as_dict(self) -> dict[str, Any]:
        """Return the filters as JSON-ready values (dates as ISO strings); ``own_commune`` only
        when set (:meth:`scoped`)."""
        out: dict[str, Any] = {
            "status": list(self.statuses), "network": self.network, "technology": self.technology,
            "operator": self.operator, "issue": self.issue,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }
        if self.own_commune is not None:
            out["own_commune"] = self.own_commune
        return out


def hide_private_statuses(rows: Iterable[dict[str, Any]], filters: StatsFilters) -> None:
    """Set to 0, in place, the ``status`` breakdown of every commune row but
    ``filters.own_commune``'s, for the statuses not in :data:`COUNTED_STATUSES` (rows as
    :func:`~geosignal.services.aggregation.rows.make_row`; nothing when ``own_commune`` is
    None): the stored figures count every status there, and a representative does not read
    another commune's drafts, rejected, withdrawn or resolved reports (:meth:`StatsFilters.scoped`).
    Call it before the territory's row is summed."""
    if filters.own_commune is None:
        return
    for row in rows:
        if row["nis_code"] != filters.own_commune:
            counted = row["breakdown"]["status"]
            for status in counted:
                if status not in COUNTED_STATUSES:
                    counted[status] = 0


def parse_filters(args: Any) -> StatsFilters:
    """Build :class:`StatsFilters` from query arguments (a mapping with ``get``).

    Accepted: ``status`` (comma-separated statuses, or ``all``), ``network``, ``technology``,
    ``operator``, ``issue``, ``from`` and ``to`` (``YYYY-MM-DD``). Empty values are ignored.
    Raises ``invalid_request`` (400) naming the parameter for a value outside its vocabulary
    or a malformed date, or ``from`` after ``to``.
    """
    def one(name: str, vocabulary: tuple[str, ...]) -> str | None:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        if value not in vocabulary:
            raise GeosignalError("invalid_request", f"{name} must be one of {', '.join(vocabulary)}",
                                 where=name)
        return value

    def day(name: str) -> date | None:
        return parse_day(args.get(name), where=name)

    raw_status = (args.get("status") or "").strip()
    if not raw_status:
        statuses = COUNTED_STATUSES
    elif raw_status == "all":  # every filed status: a draft only when named
        statuses = workflow.FILED_STATUSES
    else:
        statuses = tuple(s.strip() for s in raw_status.split(",") if s.strip())
        bad = [s for s in statuses if s not in STATUSES]
        if bad or not statuses:
            raise GeosignalError("invalid_request", f"status must be 'all' or among {', '.join(STATUSES)}",
                                 where="status")
        statuses = tuple(s for s in STATUSES if s in statuses)  # canonical order
    filters = StatsFilters(
        statuses=statuses, network=one("network", NETWORKS), technology=one("technology", TECHNOLOGIES),
        operator=one("operator", OPERATORS), issue=one("issue", ISSUES),
        date_from=day("from"), date_to=day("to"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise GeosignalError("invalid_request", "from is after to", where="from", kind="period_reversed")
    return filters


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=BRUSSELS)


def where_sql(filters: StatsFilters, *, with_status: bool = True, alias: str = "r") -> tuple[str, dict[str, Any]]:
    """Return an SQL condition over ``reports`` (alias ``r``) selecting the reports ``filters``
    count, and its bind parameters (``f_…``); ``with_status=False`` leaves the statuses asked
    out, not the scope of :meth:`StatsFilters.scoped` (another commune's report in a status not
    counted by default never counts for a representative)."""
    clauses = ["TRUE"]
    params: dict[str, Any] = {}
    if with_status:
        clauses.append(f"{alias}.status = ANY(:f_statuses)")
        params["f_statuses"] = list(filters.statuses)
    if filters.own_commune is not None:
        clauses.append(f"({alias}.status = ANY(:f_shared) OR {alias}.commune_nis = :f_own)")
        params["f_shared"] = list(COUNTED_STATUSES)
        params["f_own"] = filters.own_commune
    if filters.network:
        clauses.append(f"{alias}.network = :f_network")
        params["f_network"] = filters.network
    if filters.technology:
        clauses.append(f":f_technology = ANY({alias}.technologies)")
        params["f_technology"] = filters.technology
    if filters.operator:
        clauses.append(f":f_operator = ANY({alias}.operators)")
        params["f_operator"] = filters.operator
    if filters.issue:
        clauses.append(f"{alias}.issue = :f_issue")
        params["f_issue"] = filters.issue
    if filters.date_from:
        clauses.append(f"coalesce({alias}.observed_at, {alias}.created_at) >= :f_from")
        params["f_from"] = _day_start(filters.date_from)
    if filters.date_to:
        clauses.append(f"coalesce({alias}.observed_at, {alias}.created_at) < :f_to")
        params["f_to"] = _day_start(filters.date_to + timedelta(days=1))
    return " AND ".join(clauses), params


#: No filter: the counted statuses, every report (the stored figures answer).
NO_FILTERS = StatsFilters()
