"""The `mpd` command of a Python install: the same command line as the Rust binary."""

from __future__ import annotations

import sys

from mpd import _mpd


def main() -> None:
    sys.exit(_mpd.run_cli(["mpd", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
