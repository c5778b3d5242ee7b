"""Typed SQLAlchemy 2 models of geosignal (PostGIS, geometries in EPSG:4326)."""

from geosignal.db import Base
from geosignal.models.commune import Commune
from geosignal.models.export import ExportRun, ExportRunChunk, ExportRunReport
from geosignal.models.job import ImportJob
from geosignal.models.report import IdempotencyKey, Report
from geosignal.models.stats import CommuneStats
from geosignal.models.survey import PublishedIndicator, SurveyEdition, SurveyResponse
from geosignal.models.user import ApiToken, User

__all__ = [
    "ApiToken", "Base", "Commune", "CommuneStats", "ExportRun", "ExportRunChunk", "ExportRunReport",
    "IdempotencyKey", "ImportJob", "PublishedIndicator", "Report",
    "SurveyEdition", "SurveyResponse", "User",
]
