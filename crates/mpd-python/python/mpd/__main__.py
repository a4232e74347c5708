"""The `mpd` command of a Python install: the same command line as the Rust binary."""

from __future__ import annotations

import sys

from mpd import _mpd


def main() -> None:
    try:
        code = _mpd.run_cli(["mpd", *sys.argv[1:]])
    except KeyboardInterrupt:
        code = 130  # the CLI's exit code for an interrupted command
    sys.exit(code)


if __name__ == "__main__":
    main()
