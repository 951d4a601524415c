"""Entry point: `edgeapp` opens the TUI, `edgeapp COMMAND` runs headless.

Only argparse and the command modules' `register` functions run before a command is chosen, so
`edgeapp --help` stays fast: each command imports what it needs inside its `run`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from edgeapp.errors import EdgeappError, UsageError

# The order here is the order of `edgeapp --help`.
COMMANDS: tuple[str, ...] = (
    "hw",
    "models",
    "estimate",
    "pick",
    "pull",
    "rm",
    "chat",
    "bench",
    "compare",
    "quantize",
)

DESCRIPTION = (
    "Choose, run and measure the right GGUF quantization for this machine. "
    "Without a command, opens the terminal app."
)

EPILOG = (
    "REF is catalog-id[:QUANT] (see `edgeapp models`), default[:QUANT] for the bundled "
    "SmolLM2-135M-Instruct, or a path to a .gguf file. Every command takes --json. "
    "Exit codes: 0 success, 1 runtime error, 2 usage error."
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every command registered."""
    parser = argparse.ArgumentParser(prog="edgeapp", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="store_true", help="print versions and compiled-in backends")
    parser.add_argument("--json", action="store_true", help="with --version: print JSON")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"edgeapp.cli.cmd_{name}")
        except ModuleNotFoundError as error:
            if error.name != f"edgeapp.cli.cmd_{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run edgeapp with `argv` (default: sys.argv[1:]) and return the exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not arguments:
        # Bare `edgeapp` opens the app: don't spend the first frame's time building every parser.
        from edgeapp.tui.launch import run_app

        return _guarded(run_app)
    parser = build_parser()
    args = parser.parse_args(arguments)
    return _guarded(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    if args.version:
        from edgeapp.cli.cmd_version import run as run_version

        return run_version(args)
    if args.command is None:
        from edgeapp.tui.launch import run_app

        return run_app()
    return int(args.run(args) or 0)


def _guarded(call: Callable[[], int]) -> int:
    """Run `call`, turning user-facing errors into one line on stderr and an exit code."""
    try:
        return call()
    except UsageError as error:
        print(f"edgeapp: {error}", file=sys.stderr)
        return 2
    except EdgeappError as error:
        print(f"edgeapp: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edgeapp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
