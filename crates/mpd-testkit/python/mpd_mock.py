"""The mock Mixpanel (`mpd-mock`) for Python test suites: start it on 127.0.0.1, drive its
control endpoints (`/__mock/faults`, `/__mock/requests`, `/__mock/truth`), stop it."""

from __future__ import annotations

import json
import subprocess
import urllib.request


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

    def user_variables(self, home: str, today: str) -> dict[str, str]:
        """What a user's shell would set to work with the mock's project: its account, a
        store under `home`, `today` fixed, and short retry delays."""
        return {
            "HOME": home,
            "MP_BASE_URL": self.url,
            "MP_USERNAME": "mock-user",
            "MP_SECRET": "mock-secret",
            "MP_PROJECT_ID": "1234",
            "MP_REGION": "us",
            "MPD_TODAY": today,
            "MPD_STORE": f"{home}/lake",
            "MPD_RETRY_BASE_DELAY_SECONDS": "0.01",
            "MPD_RETRY_MAX_DELAY_SECONDS": "0.05",
            "MPD_EXPORT_PER_SECOND": "1000",
        }

    def get(self, path: str) -> bytes:
        return urllib.request.urlopen(f"{self.url}{path}").read()

    def faults(self, faults: dict) -> None:
        """Replaces the mock's faults (its `POST /__mock/faults`)."""
        request = urllib.request.Request(
            f"{self.url}/__mock/faults",
            data=json.dumps(faults).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request).read()

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
