"""Fixtures: the mock Mixpanel server (`mpd-mock`, real TCP on 127.0.0.1), a store synced from
it by the real `mpd` binary, and an MCP client session with `mpd mcp` over stdio, driven by the
official Python SDK (`mcp`)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

TODAY = "2024-03-10"
FIRST_DAY = "2024-03-01"


class Mock:
    """A running `mpd-mock`; stopped when its stdin closes."""

    def __init__(self, binary: str) -> None:
        self.process = subprocess.Popen(
            [binary, "--port", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"mpd-mock did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1].strip()

    def get(self, path: str) -> bytes:
        return urllib.request.urlopen(f"{self.url}{path}").read()

    def requests(self) -> list[dict]:
        """The mock's request log (its `GET /__mock/requests`)."""
        return json.loads(self.get("/__mock/requests"))

    def deduplicated_count(self, first: str, last: str) -> int:
        """Events in the fault-free export of the days, one per `$insert_id` and `time` (a
        record without `$insert_id` is a duplicate only of an identical record)."""
        keys = set()
        for line in self.get(f"/__mock/truth?from_date={first}&to_date={last}").splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            properties = event["properties"]
            insert_id = properties.get("$insert_id")
            if insert_id:
                keys.add((insert_id, properties["time"]))
            else:
                keys.add(json.dumps(event, sort_keys=True))
        return len(keys)

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def binary(variable: str) -> str:
    path = os.environ.get(variable)
    if not path:
        pytest.fail(f"{variable} must name a built binary (cargo xtask test sets it)")
    return path


@pytest.fixture()
def mock():
    server = Mock(binary("MPD_TEST_MOCK"))
    yield server
    server.stop()


@pytest.fixture()
def synced_env(mock, tmp_path: Path) -> dict[str, str]:
    """The variables of a user whose store was synced from the mock project by `mpd sync`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MP_", "MPD_"))}
    env.update(
        {
            "HOME": str(tmp_path),
            "MP_BASE_URL": mock.url,
            "MP_USERNAME": "mock-user",
            "MP_SECRET": "mock-secret",
            "MP_PROJECT_ID": "1234",
            "MP_REGION": "us",
            "MPD_TODAY": TODAY,
            "MPD_STORE": str(tmp_path / "lake"),
            "MPD_RETRY_BASE_DELAY_SECONDS": "0.01",
            "MPD_RETRY_MAX_DELAY_SECONDS": "0.05",
            "MPD_EXPORT_PER_SECOND": "1000",
        }
    )
    subprocess.run(
        [binary("MPD_TEST_BIN"), "sync", "--from", FIRST_DAY, "-q"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return env
