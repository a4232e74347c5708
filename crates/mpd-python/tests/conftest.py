"""Fixtures: the mock Mixpanel server (`mpd-mock`, over real TCP on 127.0.0.1) and the
environment a user's shell would have, pointing the workspace at it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The mock's Python helper lives with the mock (crates/mpd-testkit/python).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "mpd-testkit" / "python"))
from mpd_mock import Mock  # noqa: E402

TODAY = "2024-03-10"
FIRST_DAY = "2024-03-01"


@pytest.fixture(scope="session")
def mock_binary() -> str:
    binary = os.environ.get("MPD_TEST_MOCK")
    if not binary:
        pytest.fail("MPD_TEST_MOCK must name the mpd-mock binary (cargo xtask test sets it)")
    return binary


@pytest.fixture()
def mock(mock_binary):
    server = Mock(mock_binary)
    yield server
    server.stop()


@pytest.fixture()
def env(mock, tmp_path: Path, monkeypatch) -> dict[str, str]:
    """A user's variables for the mock project, with a store in a temporary folder."""
    variables = mock.user_variables(str(tmp_path), TODAY)
    for key in list(os.environ):
        if key.startswith(("MP_", "MPD_")):
            monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    return variables
