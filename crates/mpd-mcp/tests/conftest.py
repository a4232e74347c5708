"""Fixtures: the mock Mixpanel server (`mpd-mock`, real TCP on 127.0.0.1), a store synced from
it by the real `mpd` binary, and an MCP client session with `mpd mcp` over stdio, driven by the
official Python SDK (`mcp`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The mock's Python helper lives with the mock (crates/mpd-testkit/python).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "mpd-testkit" / "python"))
from mpd_mock import Mock  # noqa: E402

TODAY = "2024-03-10"
FIRST_DAY = "2024-03-01"


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
    env.update(mock.user_variables(str(tmp_path), TODAY))
    subprocess.run(
        [binary("MPD_TEST_BIN"), "sync", "--from", FIRST_DAY, "-q"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return env
