"""Rate-limit counters shared by every gunicorn worker (Flask-Limiter's storage in PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from geosignal.db import Base


class RateLimitCounter(Base):
    """One fixed-window counter of :mod:`geosignal.ratelimit`: ``hits`` until ``expires_at``.

    The table is UNLOGGED (counters are worth less than the write-ahead log they would cost;
    after a crash they start again from zero).
    """

    __tablename__ = "rate_limits"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
