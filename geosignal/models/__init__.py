"""Typed SQLAlchemy 2 models of geosignal (PostGIS, geometries in EPSG:4326)."""

from geosignal.db import Base
from geosignal.models.audit import AuditEvent
from geosignal.models.commune import Commune
from geosignal.models.evidence import Photo, SpeedTest
from geosignal.models.export import ExportRun, ExportRunBatch, ExportRunChunk, ReportFeature
from geosignal.models.job import ImportFile, ImportJob
from geosignal.models.notification import Notification
from geosignal.models.ratelimit import RateLimitCounter
from geosignal.models.report import IdempotencyKey, Report
from geosignal.models.stats import CommuneStats
from geosignal.models.survey import PublishedIndicator, SurveyEdition, SurveyResponse
from geosignal.models.user import AccountToken, ApiToken, User
from geosignal.models.zone import (
    Zone,
    ZoneChange,
    ZoneCount,
    ZoneDecision,
    ZoneDecisionReport,
    ZoneReport,
    ZoneSetting,
)

__all__ = [
    "AccountToken", "ApiToken", "AuditEvent", "Base", "Commune", "CommuneStats", "ExportRun", "ExportRunBatch",
    "ExportRunChunk", "IdempotencyKey", "ImportFile", "ImportJob", "Notification", "Photo", "PublishedIndicator",
    "RateLimitCounter", "Report", "ReportFeature", "SpeedTest", "SurveyEdition", "SurveyResponse", "User", "Zone",
    "ZoneChange", "ZoneCount", "ZoneDecision", "ZoneDecisionReport", "ZoneReport", "ZoneSetting",
]
