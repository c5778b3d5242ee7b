"""Communes: the territory served, from the official boundaries (FPS Finance, Statbel codes)."""

from __future__ import annotations

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import CheckConstraint, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base


class Commune(Base):
    """A Belgian commune, keyed by its 5-character NIS code (Statbel REFNIS)."""

    __tablename__ = "communes"
    __table_args__ = (CheckConstraint("nis_code ~ '^[0-9]{5}$'", name="nis_code_5_digits"),)

    nis_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name_fr: Mapped[str] = mapped_column(String(120))
    name_nl: Mapped[str | None] = mapped_column(String(120))
    province: Mapped[str | None] = mapped_column(String(80))
    population: Mapped[int | None] = mapped_column(Integer)
    population_year: Mapped[int | None] = mapped_column(Integer)
    #: Planar area in EPSG:31370, m², computed when the commune is loaded.
    area_m2: Mapped[float] = mapped_column(Float)
    boundary: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True, nullable=False)
    )
