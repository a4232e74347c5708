"""Type stubs of the native module `mpd._mpd` (what editors and agents see)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from os import PathLike
from typing import Any, Literal

__version__: str

Day = str | datetime.date
Progress = Callable[[str, dict[str, Any]], None]
Mode = Literal["create", "append", "replace"]
Unit = Literal["minute", "hour", "day", "week", "month"]
CountType = Literal["general", "unique", "average"]

class MpdError(Exception):
    """An mpd operation failed (the CLI's exit code 1). `.hint` holds the CLI's hint line."""

    hint: str | None

class AuthError(MpdError):
    """Credentials missing or rejected (exit code 2)."""

class InvalidArgumentError(MpdError):
    """An invalid argument, setting or request (exit code 3)."""

class NotFoundError(MpdError):
    """An account, table or file that does not exist (exit code 4)."""

class RateLimitedError(MpdError):
    """Mixpanel's rate limit still hit after retries (exit code 5)."""

class SqlResult:
    """A query's rows as Arrow batches; hand it to `polars.DataFrame`, `pyarrow.table` or
    DuckDB (`FROM result`) without a copy. It can be handed over any number of times."""

    @property
    def num_rows(self) -> int: ...
    @property
    def columns(self) -> list[str]: ...
    @property
    def schema(self) -> list[tuple[str, str]]:
        """Column names and Arrow types."""
    def __len__(self) -> int: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    def to_pylist(self) -> list[dict[str, Any]]: ...
    def to_pandas(self) -> Any:
        """A pandas DataFrame (through pyarrow when installed)."""
    def to_polars(self) -> Any:
        """A Polars DataFrame."""
    def scalar(self) -> Any:
        """The first column of the first row, or None."""

class EventStream(Iterator[dict[str, Any]]):
    """Events from Mixpanel as dicts, each exactly once, in day order."""

    def __iter__(self) -> EventStream: ...
    def __next__(self) -> dict[str, Any]: ...
    @property
    def summary(self) -> dict[str, Any] | None:
        """Days and records streamed, once the iterator is exhausted."""

class Workspace:
    """A store and (when a call needs Mixpanel) one project's credentials, resolved as the
    `mpd` command resolves them."""

    def __init__(
        self,
        account: str | None = None,
        store: str | PathLike[str] | None = None,
        config: str | PathLike[str] | None = None,
    ) -> None: ...
    def __enter__(self) -> Workspace: ...
    def __exit__(self, *args: object) -> bool: ...
    @property
    def project_id(self) -> int | None: ...
    def sync(
        self,
        what: Literal["all", "events", "profiles", "identity"] = "all",
        *,
        from_date: Day | None = None,
        lookback_days: int | None = None,
        backfill: tuple[Day, Day] | None = None,
        dry_run: bool = False,
        workers: int = 4,
        allow_bad_lines: int = 0,
        chunk_days: int | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """`mpd sync`: brings the store up to date; returns the sync report. `chunk_days`
        forces the days per export request (default: planned to fit the hourly budget)."""
    def fetch_events(
        self,
        from_date: Day,
        to_date: Day,
        *,
        events: list[str] | None = None,
        where: str | None = None,
        limit: int | None = None,
        table: str = "events",
        mode: Mode = "append",
        workers: int = 4,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """`mpd fetch events`: events of the days into a table, deduplicated."""
    def fetch_profiles(
        self,
        *,
        where: str | None = None,
        cohort_id: int | None = None,
        table: str = "profiles",
        mode: Mode = "replace",
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """`mpd fetch profiles`."""
    def import_pipelines(
        self, source: str | PathLike[str], *, allow_bad_lines: int = 0, progress: Progress | None = None
    ) -> dict[str, Any]:
        """`mpd import pipelines`: a JSON-pipelines folder or bucket URL."""
    def import_export(
        self, source: str | PathLike[str], *, allow_bad_lines: int = 0, progress: Progress | None = None
    ) -> dict[str, Any]:
        """`mpd import export`: raw export dumps (a file or a folder)."""
    def gdpr_delete(self, distinct_ids: list[str]) -> dict[str, Any]:
        """`mpd gdpr delete`: erases users from every table and file."""
    def tables(self) -> list[dict[str, Any]]: ...
    def schema(self, table: str) -> list[dict[str, Any]]: ...
    def history(self, table: str, limit: int | None = None) -> list[dict[str, Any]]: ...
    def sql(self, query: str) -> SqlResult:
        """A read-only SQL query over the store (DataFusion's SQL, JSON functions included)."""
    def sql_scalar(self, query: str) -> Any: ...
    def stream_events(
        self,
        from_date: Day,
        to_date: Day,
        *,
        events: list[str] | None = None,
        where: str | None = None,
        limit: int | None = None,
        raw: bool = False,
        workers: int = 4,
    ) -> EventStream:
        """`mpd fetch events --stdout` as an iterator of dicts."""
    def segmentation(
        self,
        event: str,
        from_date: Day,
        to_date: Day,
        *,
        on: str | None = None,
        unit: Unit = "day",
        where: str | None = None,
        type: CountType = "general",
        limit: int | None = None,
        local: bool = False,
    ) -> Any: ...
    def event_counts(
        self,
        events: list[str],
        from_date: Day,
        to_date: Day,
        *,
        unit: Unit = "day",
        type: CountType = "general",
        local: bool = False,
    ) -> Any: ...
    def funnel(
        self,
        from_date: Day,
        to_date: Day,
        *,
        funnel_id: int | None = None,
        steps: list[str] | None = None,
        unit: Unit | None = None,
        on: str | None = None,
        where: str | None = None,
        window: int | None = None,
        window_unit: Literal["second", "minute", "hour", "day"] = "day",
        limit: int | None = None,
        local: bool = False,
    ) -> Any: ...
    def retention(
        self,
        born_event: str,
        from_date: Day,
        to_date: Day,
        *,
        return_event: str | None = None,
        born_where: str | None = None,
        return_where: str | None = None,
        retention_type: Literal["birth", "compounded"] = "birth",
        interval: int | None = None,
        intervals: int = 7,
        unit: Unit = "day",
        unbounded: bool = False,
        local: bool = False,
    ) -> Any: ...
    def list_events(self) -> list[str]: ...
    def list_properties(self, event: str) -> list[dict[str, Any]]: ...
    def list_property_values(self, property: str, *, event: str | None = None, limit: int = 255) -> list[str]: ...
    def list_funnels(self) -> list[dict[str, Any]]: ...
    def list_cohorts(self) -> list[dict[str, Any]]: ...

def run_cli(args: list[str]) -> int:
    """Runs the `mpd` command line; returns its exit code."""
