"""Fixtures: the mock Mixpanel server (`mpd-mock`, over real TCP on 127.0.0.1) and the
environment a user's shell would have, pointing the workspace at it."""

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

    def faults(self, faults: dict) -> None:
        """Replaces the mock's faults (its `POST /__mock/faults`)."""
        request = urllib.request.Request(
            f"{self.url}/__mock/faults",
            data=json.dumps(faults).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request).read()

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


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
    variables = {
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
    for key in list(os.environ):
        if key.startswith(("MP_", "MPD_")):
            monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    return variables
