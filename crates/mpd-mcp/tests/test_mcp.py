"""`mpd mcp` driven by the official Python MCP client over stdio, against a store synced from
the mock Mixpanel."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from conftest import FIRST_DAY, TODAY, binary
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

READ_TOOLS = {
    "list_tables",
    "describe_table",
    "sample_rows",
    "sql",
    "sync_status",
    "segmentation",
    "event_counts",
    "funnel",
    "retention",
    "list_events",
    "list_properties",
    "list_property_values",
}


@asynccontextmanager
async def session(env: dict[str, str], *args: str):
    server = StdioServerParameters(command=binary("MPD_TEST_BIN"), args=["mcp", *args], env=env)
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as client:
            yield client


async def call(client: ClientSession, tool: str, **arguments) -> tuple[bool, str]:
    """(whether the tool failed, its text)."""
    result = await client.call_tool(tool, arguments)
    assert len(result.content) >= 1, result
    return bool(result.is_error), "\n".join(block.text for block in result.content)


def query_requests(mock) -> list[dict]:
    return [r for r in mock.requests() if "/export" not in r["path"] and "/engage" not in r["path"]]


def test_an_agent_reads_the_store_and_asks_mixpanel_only_when_the_store_lacks_days(mock, synced_env):
    truth = mock.deduplicated_count(FIRST_DAY, TODAY)

    async def scenario():
        async with session(synced_env) as client:
            init = await client.initialize()
            assert init.server_info.name == "mpd"
            assert "events_resolved" in (init.instructions or "")
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == READ_TOOLS, "without --allow-write no tool writes"
            assert tools["sql"].annotations.read_only_hint is True
            assert "query" in tools["sql"].input_schema["required"]

            failed, text = await call(client, "describe_table", table="events")
            assert not failed, text
            assert f"table events: {truth} rows" in text
            assert f"days: {FIRST_DAY} to {TODAY}" in text
            assert "  prop_browser Utf8" in text
            assert "  $browser: in " in text

            failed, text = await call(client, "sql", query="SELECT count(*) AS n FROM events")
            assert (failed, text) == (False, f"n\n{truth}\n(1 row)\n")

            failed, text = await call(client, "sql", query="DROP TABLE events")
            assert failed
            assert text.startswith(
                "error: the store is read through SQL only: DDL (DropTable) statements are refused"
            ), text
            _, text = await call(client, "sql", query="SELECT count(*) AS n FROM events")
            assert text == f"n\n{truth}\n(1 row)\n", "the refused statement changed nothing"

            failed, text = await call(client, "sql", query="SELECT nope FROM events")
            assert failed
            assert "No field named nope" in text and "(line 1, column 8)" in text, text

            failed, text = await call(client, "describe_table", table="evnts")
            assert failed and text.startswith("error: ") and "evnts" in text, text

            failed, text = await call(client, "sql", query="SELECT * FROM events", format="json")
            assert not failed, text
            shown = [line for line in text.splitlines() if line.startswith("{")]
            assert 0 < len(shown) <= 100
            assert len(text) <= 25_000
            assert "[cut: " in text.splitlines()[-1], text.splitlines()[-1]

            before = len(query_requests(mock))
            failed, text = await call(
                client, "segmentation", event="Purchase", from_date=FIRST_DAY, to_date="2024-03-05"
            )
            assert not failed, text
            assert text.startswith(
                "answered from the store, which holds every day of 2024-03-01 to 2024-03-05, "
                "complete through 2024-03-09 (no Mixpanel request)"
            ), text
            assert '"source":"local"' in text
            assert len(query_requests(mock)) == before, "the store answered: no request"

            failed, text = await call(
                client, "segmentation", event="Purchase", from_date="2024-02-20", to_date="2024-03-05"
            )
            assert not failed, text
            assert text.startswith("Mixpanel's Query API answered"), text
            assert '"source":"live"' in text
            new = query_requests(mock)[before:]
            assert len(new) == 1 and new[0]["path"].endswith("/segmentation"), new

            failed, text = await call(client, "sync_status")
            assert not failed, text
            assert '"cursor":"2024-03-09"' in text

            resources = {r.uri.__str__() for r in (await client.list_resources()).resources}
            assert resources == {"mpd://guide", "mpd://schema", "mpd://cookbook"}
            schema = await client.read_resource("mpd://schema")
            assert "## events (" in schema.contents[0].text
            prompt = await client.get_prompt("explain_store")
            assert "resolved_distinct_id" in prompt.messages[0].content.text

    asyncio.run(scenario())


def test_writing_tools_exist_only_with_allow_write(mock, synced_env):
    async def scenario():
        async with session(synced_env, "--allow-write") as client:
            await client.initialize()
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == READ_TOOLS | {"sync"}
            failed, text = await call(client, "sync", tables="events", dry_run=True, chunk_days=3)
            assert not failed, text
            assert '"export_requests":' in text, text
            assert '"chunk_days":3' in text and '"choice":"forced"' in text, text
            failed, text = await call(client, "sync", tables="events", chunk_days=0)
            assert failed and "chunk_days must be at least 1" in text, text
            failed, text = await call(client, "sync", tables="everything")
            assert failed and "tables must be events, profiles, identity or all" in text

    asyncio.run(scenario())
