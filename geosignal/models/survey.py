"""The "Territoire intelligent" survey: editions, per-commune responses, published figures.

Tables map 1:1 the dataclasses of :mod:`geosignal.services.survey` (``SurveyEdition``,
``SurveyResponse``, ``PublishedIndicator``); list fields are PostgreSQL arrays.
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base
from geosignal.services.survey import (
    CENTRAL_PURCHASING_LEVELS,
    SURVEY_PRIORITIES,
    SURVEY_REASONS,
    UNIT_SCORE,
    UNIT_SHARE,
)
from geosignal.vocab import sql_in_list


class SurveyEdition(Base):
    """One edition of the survey; ``published_only``: only the report's aggregates exist."""

    __tablename__ = "survey_editions"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text, default="", server_default="")
    published_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class SurveyResponse(Base):
    """One commune's answers to one edition (NULL / empty array: question not answered)."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        CheckConstraint("smart_score BETWEEN 1 AND 10", name="smart_score_1_10"),
        CheckConstraint("citizens_informed_score BETWEEN 1 AND 10", name="citizens_informed_1_10"),
        CheckConstraint(f"reasons <@ ARRAY[{sql_in_list(SURVEY_REASONS)}]::varchar[]", name="reasons_known"),
        CheckConstraint(
            f"priorities <@ ARRAY[{sql_in_list(SURVEY_PRIORITIES)}]::varchar[]", name="priorities_known"
        ),
        CheckConstraint(
            f"central_purchasing_interest IN ({sql_in_list(CENTRAL_PURCHASING_LEVELS)})",
            name="central_purchasing_known",
        ),
    )

    edition_year: Mapped[int] = mapped_column(
        ForeignKey("survey_editions.year", ondelete="CASCADE"), primary_key=True
    )
    nis_code: Mapped[str] = mapped_column(ForeignKey("communes.nis_code"), primary_key=True)
    smart_score: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    priorities: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    citizens_informed_score: Mapped[int | None] = mapped_column(Integer)
    smart_actions_in_pst: Mapped[bool | None] = mapped_column(Boolean)
    intends_to_answer_call: Mapped[bool | None] = mapped_column(Boolean)
    citizens_involved: Mapped[bool | None] = mapped_column(Boolean)
    public_procurement_done: Mapped[bool | None] = mapped_column(Boolean)
    central_purchasing_interest: Mapped[str | None] = mapped_column(String(20))
    cyber_ready: Mapped[bool | None] = mapped_column(Boolean)
    source_row: Mapped[int | None] = mapped_column(Integer)


class PublishedIndicator(Base):
    """An aggregate as printed in a survey report (``value``: mean /10 or share 0–1)."""

    __tablename__ = "survey_published_indicators"
    __table_args__ = (
        CheckConstraint(f"unit IN ('{UNIT_SCORE}', '{UNIT_SHARE}')", name="unit_known"),
    )

    edition_year: Mapped[int] = mapped_column(
        ForeignKey("survey_editions.year", ondelete="CASCADE"), primary_key=True
    )
    indicator: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    denominator: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, default="", server_default="")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
