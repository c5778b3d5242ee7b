"""Per-commune white-zone statistics: moved to :mod:`geosignal.services.aggregation`.

Kept so that ``from geosignal.services.stats import commune_stats`` still works.
"""

from geosignal.services.aggregation import COUNTED_STATUSES, commune_stats

__all__ = ["COUNTED_STATUSES", "commune_stats"]
