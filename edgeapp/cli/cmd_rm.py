"""`edgeapp rm REF`: remove a downloaded model file from the Hugging Face cache and say what it freed."""

from __future__ import annotations

import argparse

from edgeapp.cli.output import add_json_flag


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rm",
        help="remove a downloaded model from the cache",
        description=(
            "Remove REF's GGUF file from the Hugging Face cache: the file, its snapshot links and any "
            "partial download. REF is catalog-id:QUANT; a bare catalog-id removes every cached quant "
            "of that model."
        ),
    )
    parser.add_argument("ref", metavar="REF", help="catalog-id[:QUANT]")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def _names_to_remove(repo: str, catalog_names: tuple[str, ...], whole_model: bool) -> list[str]:
    """Return the cached file names REF means: as cached (the hub's spelling), then the catalog's
    (a partial download has no cached name yet)."""
    from edgeapp.downloads import list_cached
    from edgeapp.downloads.hub import match_filename

    cached = tuple(f.filename for f in list_cached() if f.repo.lower() == repo.lower())
    if whole_model:
        names = [*cached, *catalog_names]
    else:
        matched = match_filename(catalog_names[0], cached)
        names = [matched] if matched else [catalog_names[0]]
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.lower(), name)
    return list(unique.values())


def run(args: argparse.Namespace) -> int:
    from edgeapp.cli.cmd_pull import parse_ref
    from edgeapp.cli.output import emit_json, format_bytes
    from edgeapp.downloads import remove_cached
    from edgeapp.errors import ModelNotFound

    target = parse_ref(args.ref, need_quant=False)
    names = _names_to_remove(target.repo, target.filenames, whole_model=target.quant is None)
    removed = []
    freed_bytes = 0
    for name in names:
        freed = remove_cached(target.repo, name)
        if freed:
            removed.append(name)
            freed_bytes += freed
    if not removed:
        what = f"{target.model_id}:{target.quant}" if target.quant else target.model_id
        raise ModelNotFound(f"{what} is not in the cache ({target.repo}); nothing was removed")
    if args.json:
        emit_json(
            {
                "model": target.model_id,
                "quant": target.quant,
                "repo": target.repo,
                "files": removed,
                "freed_bytes": freed_bytes,
            }
        )
        return 0
    for name in removed:
        print(f"removed {target.repo}/{name}")
    print(f"freed {format_bytes(freed_bytes)}")
    return 0
