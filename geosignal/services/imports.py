"""File imports: an uploaded file through the intake pipeline, previewed, then saved.

Saving is all-or-nothing per upload (``mode="all"``) unless the user chooses to keep only
the valid features (``mode="valid_only"``). A preview (``dry_run``) runs exactly the same
steps, commune attribution included, inside a savepoint that is rolled back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import mapping
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.models import User
from geosignal.services.intake import Limits, ReportInput, ServiceArea, read_upload
from geosignal.services.reports import create_report
from geosignal.vocab import NETWORKS

MODES = ("all", "valid_only")


@dataclass
class ImportOutcome:
    """What an import did or would do. ``features``: one entry per feature of the file, in file
    order: ``{"index", "status": "accepted"|"refused", "geometry" (GeoJSON, EPSG:4326, only
    when accepted), "properties", "warnings", "report_id" and "created" (when saved; False
    for a probable duplicate of a report filed seconds before), "error" (problem document
    when refused)}``. ``saved`` counts the reports created."""

    format: str | None
    dry_run: bool
    mode: str
    saved: int = 0
    features: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(1 for f in self.features if f["status"] == "accepted")

    @property
    def refused(self) -> int:
        return sum(1 for f in self.features if f["status"] == "refused")

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as JSON-ready data."""
        return {"format": self.format, "dry_run": self.dry_run, "mode": self.mode, "saved": self.saved,
                "accepted": self.accepted, "refused": self.refused, "warnings": self.warnings,
                "features": self.features}


def _geojson(geom: Any) -> dict[str, Any]:
    return json.loads(json.dumps(mapping(geom)))


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
) -> ImportOutcome:
    """Read an uploaded file and store its reports for ``user`` (the caller commits).

    Every feature goes through :func:`~geosignal.services.intake.read_upload` and
    :func:`~geosignal.services.reports.create_report` (commune attribution and rights).
    Features without ``network`` take ``default_network``. In ``mode="all"`` any refused
    feature means nothing is stored and ``import_rejected`` (422) is raised carrying the
    per-feature report; in ``valid_only`` the valid ones are stored. File-level problems
    raise as :func:`read_upload` does (413, 415, 422).
    """
    if mode not in MODES:
        raise GeosignalError("invalid_request", f"mode must be one of {', '.join(MODES)}", where="mode")
    if default_network is not None and default_network not in NETWORKS:
        raise GeosignalError("invalid_attribute", f"network must be one of {', '.join(NETWORKS)}", where="network")
    results = read_upload(data, filename, area=area, limits=limits, crs=crs, repair=repair, column_map=column_map)
    outcome = ImportOutcome(format=results.format, dry_run=dry_run, mode=mode, warnings=list(results.warnings))
    savepoint = session.begin_nested()
    for position, item in enumerate(results):
        if isinstance(item, GeosignalError):
            index = item.extra.get("index", position)
            outcome.features.append({"index": index, "status": "refused", "error": item.to_problem()})
            continue
        entry = _save_one(session, user, item, position, default_network)
        outcome.features.append(entry)
    all_ok = outcome.refused == 0
    if dry_run or (mode == "all" and not all_ok):
        savepoint.rollback()
        for entry in outcome.features:
            entry.pop("report_id", None)
            entry.pop("created", None)
    else:
        savepoint.commit()
        outcome.saved = sum(1 for entry in outcome.features if entry.get("created"))
    if mode == "all" and not all_ok and not dry_run:
        raise GeosignalError(
            "import_rejected",
            f"{outcome.refused} of {len(outcome.features)} features were refused; nothing was saved "
            "(correct the file, or choose to keep only the valid features)",
            **outcome.to_dict(),
        )
    return outcome


def _save_one(session: Session, user: User, item: ReportInput, position: int,
              default_network: str | None) -> dict[str, Any]:
    index = item.source_index if item.source_index is not None else position
    if "network" not in item.properties:
        if default_network is None:
            error = GeosignalError("invalid_attribute", "network is missing (mobile or fixed); choose a default",
                                   where=f"feature {index}", index=index)
            return {"index": index, "status": "refused", "error": error.to_problem()}
        item.properties["network"] = default_network
    nested = session.begin_nested()
    try:
        feature, created = create_report(session, user, item)
    except GeosignalError as error:
        nested.rollback()
        error.where = error.where or f"feature {index}"
        return {"index": index, "status": "refused", "error": error.to_problem()}
    nested.commit()
    warnings = list(item.warnings)
    if not created:
        warnings.append({"code": "probable_duplicate", "detail": "identical to a report filed seconds ago",
                         "report_id": feature["id"]})
    return {"index": index, "status": "accepted", "geometry": _geojson(item.geometry),
            "properties": feature["properties"], "warnings": warnings, "report_id": feature["id"],
            "created": created}
