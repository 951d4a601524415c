"""`edgeapp pull REF`: download a catalog model's GGUF into the Hugging Face cache; `--list` shows it."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeapp.cli.output import add_json_flag
from edgeapp.errors import UsageError

if TYPE_CHECKING:
    from edgeapp.downloads import DownloadProgress

# Without a terminal (CI logs, pipes) a line every few seconds is enough to show life.
_LOG_EVERY_S = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pull",
        help="download a model's GGUF file (resumable, sha256-checked)",
        description=(
            "Download the GGUF file for REF (catalog-id:QUANT) into the Hugging Face cache "
            "(HF_HOME / HF_HUB_CACHE; HF_ENDPOINT for mirrors, HF_TOKEN for gated repos). "
            "An interrupted download resumes on the next run. With --list, show the cached GGUF files."
        ),
    )
    parser.add_argument(
        "ref",
        nargs="?",
        metavar="REF",
        help="catalog-id[:QUANT], e.g. smollm2-135m-instruct:Q4_K_M; without a quant, the one `edgeapp pick` chooses",
    )
    parser.add_argument("--list", action="store_true", help="list the GGUF files in the cache and exit")
    parser.add_argument(
        "--revision", default="main", help="branch, tag or commit of the repo (default: main)"
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class RefTarget:
    """What a REF names on the hub."""

    model_id: str
    quant: str | None
    repo: str
    filenames: tuple[str, ...]  # one file with a quant; every catalog file without one


def parse_ref(ref: str, *, need_quant: bool) -> RefTarget:
    """Return the hub repo and file(s) for `catalog-id[:QUANT]`; UsageError for other kinds of REF."""
    from pathlib import Path

    from edgeapp.catalog import load_catalog

    text = ref.strip()
    if text.lower().endswith(".gguf") or Path(text).exists():
        raise UsageError(f"{ref} is a local file; there is nothing to download")
    model_id, _, quant = text.partition(":")
    if model_id.lower() == "default":
        raise UsageError("the bundled model (`default`) ships with edgeapp; there is nothing to download")
    model = load_catalog().get(model_id)
    if not quant:
        if need_quant:
            quant = picked_quant(model.id)
            print(
                f"edgeapp: pulling {model.id}:{quant}, the picker's choice for this machine", file=sys.stderr
            )
        else:
            return RefTarget(model.id, None, model.repo, tuple(model.files.values()))
    return RefTarget(model.id, quant.upper(), model.repo, (model.file_for(quant),))


def picked_quant(model_id: str) -> str:
    """Return the quant `edgeapp pick` chooses for this machine; UsageError if none fits."""
    from edgeapp.hardware import probe_hardware
    from edgeapp.pick import Headroom, pick_quant
    from edgeapp.settings import load_settings

    settings = load_settings()
    headroom = Headroom(settings.min_free_ram_bytes, settings.min_free_ram_fraction)
    pick = pick_quant(model_id, probe_hardware(), settings.n_ctx, headroom)
    if pick.quant is None:
        raise UsageError(
            f"{pick.reason}; name a quant to download one anyway: `edgeapp pull {model_id}:QUANT`"
        )
    return pick.quant


class ProgressPrinter:
    """Writes download progress to stderr: one rewritten line on a terminal, a line now and then otherwise."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_line_at = 0.0
        self._width = 0

    def __call__(self, report: DownloadProgress) -> None:
        from edgeapp.cli.output import format_bytes

        done = report.downloaded_bytes >= report.total_bytes
        now = time.monotonic()
        if not self.tty and not done and now - self._last_line_at < _LOG_EVERY_S:
            return
        self._last_line_at = now
        eta = "-" if report.eta_s is None else _duration(report.eta_s)
        line = (
            f"{report.filename}: {100 * report.fraction:5.1f}%  {format_bytes(report.downloaded_bytes)}"
            f" / {format_bytes(report.total_bytes)}  {format_bytes(report.speed_bytes_per_s)}/s  ETA {eta}"
        )
        if report.resumed_from_bytes:
            line += f"  (resumed at {format_bytes(report.resumed_from_bytes)})"
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width) + ("\n" if done else ""))
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def run(args: argparse.Namespace) -> int:
    if args.list:
        return run_list(args)
    if not args.ref:
        raise UsageError("pull needs a REF (catalog-id:QUANT), or --list to see what is cached")
    from edgeapp.downloads import HubUnavailable, download

    target = parse_ref(args.ref, need_quant=True)
    printer = None if args.json else ProgressPrinter()
    try:
        result = download(target.repo, target.filenames[0], revision=args.revision, progress=printer)
    except HubUnavailable as error:
        raise error.for_ref(f"{target.model_id}:{target.quant}") from error
    except KeyboardInterrupt:
        print("\nedgeapp: pull interrupted; run the same command again to resume", file=sys.stderr)
        raise
    if args.json:
        from edgeapp.cli.output import emit_json

        emit_json(
            {
                "model": target.model_id,
                "quant": target.quant,
                "repo": result.repo,
                "file": result.filename,
                "path": str(result.path),
                "size_bytes": result.size_bytes,
                "sha256": result.sha256,
                "downloaded_bytes": result.downloaded_bytes,
                "resumed_from_bytes": result.resumed_from_bytes,
                "elapsed_s": round(result.elapsed_s, 3),
                "verified": result.verified,
                "from_cache": result.from_cache,
            }
        )
        return 0
    if result.requested_filename:
        print(
            f"edgeapp: the repo has no {result.requested_filename}; using {result.filename}", file=sys.stderr
        )
    if result.from_cache:
        print(f"edgeapp: {result.repo}/{result.filename} is already downloaded", file=sys.stderr)
    print(result.path)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the GGUF files in the HF cache (optionally only those of REF's repo)."""
    from edgeapp.cli.output import emit_json, format_bytes, format_table
    from edgeapp.downloads import hub_cache_dir, list_cached

    files = list_cached()
    if args.ref:
        target = parse_ref(args.ref, need_quant=False)
        wanted = {name.lower() for name in target.filenames} if target.quant else None
        files = [
            f
            for f in files
            if f.repo.lower() == target.repo.lower() and (wanted is None or f.filename.lower() in wanted)
        ]
    if args.json:
        emit_json([f.to_json() for f in files])
        return 0
    if not files:
        print(f"no GGUF files in {hub_cache_dir()}")
        return 0
    rows = [
        (f.repo, f.filename, format_bytes(f.size_bytes), "yes" if f.verified else "no", str(f.path))
        for f in files
    ]
    print(format_table(("repo", "file", "size", "verified", "path"), rows, right=(2,)))
    # Two commits can share a blob: count the bytes on disk once.
    total = sum({str(f.path.resolve()): f.size_bytes for f in files}.values())
    print(f"\n{len(files)} file(s), {format_bytes(total)} in {hub_cache_dir()}")
    return 0
