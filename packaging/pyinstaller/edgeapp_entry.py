"""Entry point of the PyInstaller bundle: the frozen `edgeapp` executable starts here.

Two things a frozen app must do before anything else, because the bundle's executable is also
the interpreter that every child process runs:
- `multiprocessing.freeze_support()`: the engine is started with multiprocessing's spawn method,
  which runs this executable again with `--multiprocessing-fork` (and `-c ...` for its resource
  tracker); freeze_support turns such a start into the child instead of a second edgeapp.
- `-c CODE`: edgeapp.backend_info probes llama.cpp by running `sys.executable -c SCRIPT`, which a
  frozen executable does not understand by itself; here it runs SCRIPT as `python -c` would.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if len(sys.argv) >= 3 and sys.argv[1] == "-c":
        code, sys.argv = sys.argv[2], ["-c", *sys.argv[3:]]
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
        raise SystemExit(0)

    from edgeapp.cli.main import main

    raise SystemExit(main())
