"""Typed SQLAlchemy 2 models of geosignal (PostGIS, geometries in EPSG:4326)."""

from geosignal.db import Base
from geosignal.models.commune import Commune
from geosignal.models.report import IdempotencyKey, Report
from geosignal.models.user import ApiToken, User

__all__ = ["ApiToken", "Base", "Commune", "IdempotencyKey", "Report", "User"]
