"""Typed results of live (and `local=True`) queries: the CLI's JSON as attributes, `.to_dict()`,
and `.df`, a pandas DataFrame in long form (pandas is imported only when `.df` is read)."""

from __future__ import annotations

from typing import Any


class QueryResult:
    """A query's answer: every key of the CLI's JSON is an attribute (`.source` says whether
    Mixpanel or the local store answered)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict[str, Any]:
        """The result as the CLI's `--format json` prints it."""
        return dict(self._data)

    def rows(self) -> list[dict[str, Any]]:
        """The result as flat rows (what `.df` holds)."""
        raise NotImplementedError

    @property
    def df(self):
        """The rows as a pandas DataFrame."""
        import pandas

        return pandas.DataFrame(self.rows())

    def __repr__(self) -> str:
        keys = ", ".join(f"{k}={v!r}" for k, v in self._data.items() if not isinstance(v, (list, dict)))
        return f"{type(self).__name__}({keys})"


class _SeriesResult(QueryResult):
    def rows(self) -> list[dict[str, Any]]:
        return [
            {"date": date, "series": name, "value": value}
            for name, values in self._data.get("series", {}).items()
            for date, value in values.items()
        ]


class SegmentationResult(_SeriesResult):
    """`segmentation`: one series per segment; `.df` has columns date, series, value."""


class EventCountsResult(_SeriesResult):
    """`event_counts`: one series per event; `.df` has columns date, series, value."""


class FunnelResult(QueryResult):
    """`funnel`: steps with counts and conversion; `.df` has one row per step."""

    def rows(self) -> list[dict[str, Any]]:
        return [dict(step) for step in self._data.get("steps", [])]


class RetentionResult(QueryResult):
    """`retention`: cohorts; `.df` has one row per cohort and interval."""

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"date": cohort["date"], "size": cohort["size"], "interval": i, "count": count, "rate": rate}
            for cohort in self._data.get("cohorts", [])
            for i, (count, rate) in enumerate(zip(cohort["counts"], cohort["rates"]))
        ]
