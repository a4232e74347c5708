"""mpd from Python: Mixpanel data in a Delta Lake, deduplicated, queried with SQL.

    import mpd
    with mpd.Workspace() as ws:                 # the CLI's config, accounts and variables
        ws.sync(from_date="2024-01-01")        # `mpd sync`
        df = polars.DataFrame(ws.sql("SELECT event_name, count(*) AS n FROM events GROUP BY 1"))
        seg = ws.segmentation("Purchase", "2024-01-01", "2024-01-31", local=True)
        seg.df                                  # pandas, one row per day and segment

Every method is the CLI command of the same name and returns what `--format json` prints
(live queries as result objects with `.to_dict()` and `.df`). Errors are `MpdError` and its
subclasses, one per CLI exit code, with the CLI's message (and `.hint`).
"""

from __future__ import annotations

import functools

from mpd import _mpd
from mpd._mpd import (
    AuthError,
    EventStream,
    InvalidArgumentError,
    MpdError,
    NotFoundError,
    RateLimitedError,
    SqlResult,
    __version__,
)
from mpd._results import (
    EventCountsResult,
    FunnelResult,
    QueryResult,
    RetentionResult,
    SegmentationResult,
)

__all__ = [
    "AuthError",
    "EventCountsResult",
    "EventStream",
    "FunnelResult",
    "InvalidArgumentError",
    "MpdError",
    "NotFoundError",
    "QueryResult",
    "RateLimitedError",
    "RetentionResult",
    "SegmentationResult",
    "SqlResult",
    "Workspace",
    "__version__",
]


def _typed(native, result_type):
    @functools.wraps(native)
    def call(self, *args, **kwargs):
        return result_type(native(self, *args, **kwargs))

    return call


class Workspace(_mpd.Workspace):
    """A store and (when a call needs Mixpanel) one project's credentials.

    `Workspace(account=None, store=None, config=None)`: credentials and settings are resolved
    exactly as the `mpd` command resolves them. Use it as a context manager or keep it open.
    """

    # The live queries return typed results; `functools.wraps` keeps the native signature and
    # docstring visible to `help()` and `inspect.signature`.
    segmentation = _typed(_mpd.Workspace.segmentation, SegmentationResult)
    event_counts = _typed(_mpd.Workspace.event_counts, EventCountsResult)
    funnel = _typed(_mpd.Workspace.funnel, FunnelResult)
    retention = _typed(_mpd.Workspace.retention, RetentionResult)

    # The names `mixpanel_data` users know (docs/python.md, "Coming from mixpanel_data").

    def events(self) -> list[str]:
        """Event names of the project (`list_events`)."""
        return self.list_events()

    def properties(self, event: str) -> list[str]:
        """Property names of an event (`list_properties`, names only)."""
        return [p["name"] for p in self.list_properties(event)]

    def property_values(self, property_name: str, *, event: str | None = None, limit: int = 100) -> list[str]:
        """Values of a property (`list_property_values`, with mixpanel_data's default limit of 100)."""
        return self.list_property_values(property_name, event=event, limit=limit)

    def funnels(self) -> list[dict]:
        """Saved funnels (`list_funnels`)."""
        return self.list_funnels()

    def cohorts(self) -> list[dict]:
        """Saved cohorts (`list_cohorts`)."""
        return self.list_cohorts()

    def table_schema(self, table: str) -> list[dict]:
        """A table's columns and types (`schema`)."""
        return self.schema(table)
