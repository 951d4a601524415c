"""Start the terminal app: `edgeapp` with no command calls `run_app()`."""

from __future__ import annotations

import sys


def run_app(start_mode: str = "hardware") -> int:
    """Run the app until the user quits; return the process exit code.

    The app catches the failures a user can act on and shows them; an EdgeappError raised
    before the first frame (say, unreadable settings) ends the program with its message.
    """
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print(
            "edgeapp: the terminal app needs an interactive terminal; "
            "run `edgeapp --help` for the commands that work without one",
            file=sys.stderr,
        )
        return 2
    from edgeapp.tui.app import EdgeApp

    app = EdgeApp(start_mode=start_mode)
    result = app.run()
    if app.return_code not in (None, 0):
        return int(app.return_code or 1)
    return int(result or 0)
