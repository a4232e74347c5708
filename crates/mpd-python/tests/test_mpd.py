"""The `mpd` Python module against the mock Mixpanel server: what a notebook user does (sync,
SQL into Polars, pandas, pyarrow and DuckDB, live and local queries, errors, streaming,
Ctrl-C) and the `mpd` command the package installs, whose numbers must match."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import pandas
import polars
import pyarrow
import pytest

import mpd
from conftest import FIRST_DAY


def cli(*args: str) -> subprocess.CompletedProcess:
    """The `mpd` command of this Python install (`python -m mpd`), in the test's environment."""
    return subprocess.run([sys.executable, "-m", "mpd", *args], capture_output=True, text=True)


def interrupt_sync_at(line: str, progress: str) -> None:
    """Runs a sync in a child Python with the `progress` function defined by `progress` (code),
    sends SIGINT once the child printed `line`, and checks that it raised KeyboardInterrupt
    promptly."""
    script = textwrap.dedent(progress) + textwrap.dedent(
        """
        import sys, mpd
        try:
            mpd.Workspace().sync("events", from_date="2024-02-10", workers=1, progress=progress)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
        print("finished", flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == line
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, out + err
    assert "interrupted" in out
    assert time.monotonic() - sent < 5, "the interrupt took effect within seconds"


def cli_count(sql: str) -> int:
    done = cli("query", "sql", sql, "-f", "csv")
    assert done.returncode == 0, done.stderr
    return int(done.stdout.splitlines()[1])


def test_a_sync_is_queried_from_polars_pandas_pyarrow_and_duckdb_with_the_cli_numbers(env):
    with mpd.Workspace() as ws:
        report = ws.sync("events", from_date=FIRST_DAY)
        assert report["events"]["written"] > 0
        truth = cli_count("SELECT count(*) FROM events")
        assert report["events"]["written"] == truth

        result = ws.sql("SELECT event_name, count(*) AS n FROM events GROUP BY 1 ORDER BY 1")
        frame = polars.DataFrame(result)
        assert frame["n"].sum() == truth
        assert pyarrow.table(result).column("n").to_pylist() == frame["n"].to_list()
        assert int(result.to_pandas()["n"].sum()) == truth
        assert duckdb.sql("SELECT sum(n) FROM result").fetchone()[0] == truth
        assert ws.sql_scalar("SELECT count(*) FROM events") == truth
        assert result.num_rows == len(result) == frame.height
        assert result.columns == ["event_name", "n"]
        # The batches are shared, not moved: the same result can be handed over again.
        assert polars.DataFrame(result).equals(frame)

        names = [t["name"] for t in ws.tables()]
        assert "events" in names
        assert ws.history("events", 1)[0]["command"] == "sync events"


def test_the_full_table_reaches_polars_with_its_types(env):
    with mpd.Workspace() as ws:
        ws.sync("events", from_date=FIRST_DAY)
        frame = polars.DataFrame(ws.sql("SELECT * FROM events"))
        assert frame.height == cli_count("SELECT count(*) FROM events")
        assert frame.schema["time"] == polars.Datetime("us", "UTC")
        assert frame.schema["date"] == polars.Date


def test_a_live_query_and_its_local_twin_agree_and_say_who_answered(env):
    with mpd.Workspace() as ws:
        ws.sync("events", from_date=FIRST_DAY)
        live = ws.segmentation("Purchase", "2024-03-01", "2024-03-05")
        local = ws.segmentation("Purchase", "2024-03-01", "2024-03-05", local=True)
        assert (live.source, local.source) == ("live", "local")
        assert live.total == local.total > 0
        assert local.df["value"].sum() == local.total
        assert set(local.df.columns) == {"date", "series", "value"}
        assert local.to_dict()["event"] == "Purchase"
        counts = ws.event_counts(["Purchase", "Login"], "2024-03-01", "2024-03-05", local=True)
        assert set(counts.df["series"]) == {"Purchase", "Login"}
        assert "Purchase" in ws.list_events()


def test_errors_are_the_cli_classes_with_the_cli_messages(env, monkeypatch):
    with mpd.Workspace() as ws:
        with pytest.raises(mpd.InvalidArgumentError) as raised:
            ws.sql("SELECT * FROM no_such_table")
    done = cli("query", "sql", "SELECT * FROM no_such_table")
    assert done.returncode == 3
    assert f"error: {raised.value}" in done.stderr
    assert isinstance(raised.value, mpd.MpdError)
    assert raised.value.hint is None

    monkeypatch.setenv("MP_SECRET", "wrong")
    with mpd.Workspace() as ws, pytest.raises(mpd.AuthError) as refused:
        ws.list_events()
    assert "refused the credentials" in str(refused.value)

    with pytest.raises(mpd.InvalidArgumentError, match="after to_date"):
        mpd.Workspace().segmentation("Purchase", "2024-03-05", "2024-03-01")


def test_streamed_events_arrive_once_even_when_requests_fail(env, mock):
    expected = cli("fetch", "events", "--from", "2024-03-01", "--to", "2024-03-03", "--stdout")
    assert expected.returncode == 0, expected.stderr
    lines = expected.stdout.splitlines()
    # Each first request of a day is cut halfway; the retried day must not repeat an event.
    mock.faults({"disconnect": {"days": "all", "attempts": 1}})
    stream = mpd.Workspace().stream_events("2024-03-01", "2024-03-03")
    events = list(stream)
    assert len(events) == len(lines) > 0
    canonical = lambda event: json.dumps(event, sort_keys=True)  # noqa: E731
    assert sorted(map(canonical, events)) == sorted(canonical(json.loads(l)) for l in lines)
    assert stream.summary["records"] == len(lines)
    assert stream.summary["retries"] >= 3, "every day was cut once and retried"


def test_ctrl_c_during_a_sync_raises_keyboard_interrupt_and_leaves_the_store_intact(env, mock):
    mock.faults({"slow_first_byte_ms": 300})
    interrupt_sync_at(
        "committed",
        """
        def progress(event, info):
            if event == "days_finished":
                print("committed", flush=True)
        """,
    )

    mock.faults({})
    with mpd.Workspace() as ws:
        # Whatever was committed before the interrupt reads back, one row per key.
        if "events" in [t["name"] for t in ws.tables()]:
            assert ws.sql_scalar("SELECT count(*) FROM events") == ws.sql_scalar(
                "SELECT count(DISTINCT (insert_id, time)) FROM events"
            )
        ws.sync("events", from_date="2024-02-10")
        resumed = ws.sql_scalar("SELECT count(*) FROM events")
        keys = ws.sql_scalar("SELECT count(DISTINCT (insert_id, time)) FROM events")
    fresh_store = env["HOME"] + "/fresh"
    with mpd.Workspace(store=fresh_store) as fresh:
        fresh.sync("events", from_date="2024-02-10")
        truth = fresh.sql_scalar("SELECT count(*) FROM events")
    assert resumed == keys == truth


def test_the_package_installs_the_mpd_command(env):
    done = cli("--version")
    assert done.returncode == 0
    assert mpd.__version__ in done.stdout
    assert cli("no-such-command").returncode == 3


def test_arguments_python_cannot_express_in_types_are_refused_with_what_is_allowed(env):
    ws = mpd.Workspace()
    cases = [
        (lambda: ws.segmentation("Purchase", "2024-03-01", "2024-03-02", unit="fortnight"),
         'unit must be minute, hour, day, week or month, not "fortnight"'),
        (lambda: ws.segmentation("Purchase", "2024-03-01", "2024-03-02", type="median"),
         'type must be general, unique or average, not "median"'),
        (lambda: ws.fetch_events("2024-03-01", "2024-03-02", mode="upsert"),
         'mode must be create, append or replace, not "upsert"'),
        (lambda: ws.sync("everything"),
         'what must be all, events, profiles or identity, not "everything"'),
        (lambda: ws.segmentation("Purchase", "March 1st", "2024-03-02"),
         'from_date must be a day like 2024-01-31, not "March 1st"'),
        (lambda: ws.retention("Sign Up", "2024-03-01", "2024-03-02", retention_type="weekly"),
         'retention_type must be birth or compounded, not "weekly"'),
        (lambda: ws.funnel("2024-03-01", "2024-03-02", steps=["A", "B"], window=1, window_unit="year"),
         'window_unit must be second, minute, hour or day, not "year"'),
        (lambda: ws.sync("events", from_date="2024-03-01", chunk_days=0),
         "chunk_days must be at least 1 (or None to let mpd choose)"),
    ]
    for call, message in cases:
        with pytest.raises(mpd.InvalidArgumentError) as raised:
            call()
        assert str(raised.value) == message


def test_the_lake_operations_from_python_match_the_cli_reports(env, tmp_path):
    import datetime

    with mpd.Workspace() as ws:
        fetched = ws.fetch_events(datetime.date(2024, 3, 1), "2024-03-02", table="two_days", mode="create")
        assert fetched["written"] == ws.sql_scalar("SELECT count(*) FROM two_days") > 0
        with pytest.raises(mpd.MpdError, match="two_days"):
            ws.fetch_events("2024-03-01", "2024-03-02", table="two_days", mode="create")
        user = ws.sql_scalar("SELECT max(distinct_id) FROM two_days")
        erased = ws.gdpr_delete([user])
        assert erased["tables"], erased
        assert ws.sql_scalar(f"SELECT count(*) FROM two_days WHERE distinct_id = '{user}'") == 0
        with pytest.raises(mpd.NotFoundError):
            ws.history("no_such_table")
        assert [c["name"] for c in ws.table_schema("two_days")][:2] == ["event_name", "time"]


def test_progress_is_reported_and_a_callback_cannot_reenter_the_workspace(env):
    seen = []
    with mpd.Workspace() as ws:
        report = ws.sync("events", from_date=FIRST_DAY, progress=lambda e, i: seen.append((e, i)))
        events = [event for event, _ in seen]
        assert events[0] == "started" and events[-1] == "finished"
        lines = sum(info["lines"] for event, info in seen if event == "days_finished")
        assert lines == report["events"]["fetched"] > 0

        def reenter(event, info):
            if event == "started":
                try:
                    ws.tables()
                except mpd.MpdError as error:
                    seen.append(("refused", str(error)))

        seen.clear()
        ws.sync("events", progress=reenter)
        assert ("refused", "a Workspace cannot be called from inside one of its own calls (a progress callback)") in seen


def test_rows_keep_nulls_and_the_scalar_is_the_first_column(env):
    with mpd.Workspace() as ws:
        result = ws.sql("SELECT 1 AS a, CAST(NULL AS BIGINT) AS b, 3 AS c")
        assert result.to_pylist() == [{"a": 1, "b": None, "c": 3}]
        assert ws.sql_scalar("SELECT * FROM (SELECT 1 AS x) l CROSS JOIN (SELECT 2 AS x) r") == 1
        assert ws.sql_scalar("SELECT 1 WHERE false") is None


def test_the_cli_runs_twice_in_one_process(env):
    assert mpd._mpd.run_cli(["mpd", "--version"]) == 0
    assert mpd._mpd.run_cli(["mpd", "config", "show"]) == 0


def test_ctrl_c_while_a_progress_callback_runs_still_interrupts_the_sync(env):
    interrupt_sync_at(
        "in callback",
        """
        import time
        def progress(event, info):
            if event == "day_started":
                print("in callback", flush=True)
                time.sleep(1)
        """,
    )


def test_a_sync_plan_fits_the_budget_unless_chunk_days_forces_the_size(env):
    with mpd.Workspace() as ws:
        planned = ws.sync("events", from_date="2022-03-10", dry_run=True)["plan"]["requests"]
        assert planned["choice"] == "probe_first_day"
        assert planned["requests"] <= 60 and planned["budget_wait_secs"] == 0
        forced = ws.sync("events", from_date="2024-03-01", dry_run=True, chunk_days=3)
        requests = forced["plan"]["requests"]
        assert (requests["choice"], requests["chunk_days"], requests["requests"]) == ("forced", 3, 4)
