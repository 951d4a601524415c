"""`edgeapp models`: the catalog, what is downloaded, and the bundled default."""

from __future__ import annotations

import argparse

from edgeapp.cli.output import add_json_flag, emit_json, format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the catalog, the bundled default and what is downloaded",
        description=(
            "List the models edgeapp knows (models.toml, extended by the user's catalog) with their quants; "
            "quants marked * are downloaded and verified (or derived, for the bundled default). Sizes before a "
            "download are estimates from parameters × bits per weight. Any .gguf path is also a model."
        ),
    )
    parser.add_argument(
        "search", nargs="?", default=None, help="only models whose id, name, repo or description match"
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def _default_entry() -> dict:
    from edgeapp import bundled
    from edgeapp.quants import QUANTS

    try:
        path = str(bundled.bundled_model_path())
    except Exception as error:  # not installed: say so rather than fail the listing
        path = None
        note = str(error)
    else:
        note = f"ships with edgeapp; quants are derived from its {bundled.BUNDLED_QUANT} file on first use"
    return {
        "id": "default",
        "name": bundled.BUNDLED_NAME,
        "path": path,
        "quants": [bundled.BUNDLED_QUANT, *QUANTS],
        "available": [bundled.BUNDLED_QUANT] + [q for q in QUANTS if bundled.is_derived(q)] if path else [],
        "derived_from": bundled.BUNDLED_QUANT,
        "license": "apache-2.0",
        "note": note,
    }


def run(args: argparse.Namespace) -> int:
    from edgeapp.catalog import load_catalog
    from edgeapp.locations import user_catalog_file
    from edgeapp.refs import downloaded_quants

    catalog = load_catalog()
    models = catalog.search(args.search) if args.search else list(catalog)
    entries = []
    for model in models:
        data = model.to_json()
        data["downloaded"] = sorted(downloaded_quants(model), key=model.quants.index)
        data["user"] = model.source != str(catalog.builtin_path)
        entries.append(data)
    default = _default_entry()
    show_default = not args.search or args.search.lower() in "default smollm2 bundled"
    if args.json:
        emit_json(
            {
                "default": default if show_default else None,
                "models": entries,
                "user_catalog": str(user_catalog_file()),
            }
        )
        return 0
    rows = []
    if show_default:
        rows.append(
            (
                "default",
                "SmolLM2 135M (bundled)",
                "0.13B",
                _quant_list(default["quants"], default["available"]),
                "apache-2.0",
            )
        )
    for data in entries:
        name = data["name"] + (" [user]" if data["user"] else "") + (" [gated]" if data["gated"] else "")
        rows.append(
            (
                data["id"],
                name,
                f"{data['params'] / 1e9:.2f}B",
                _quant_list(list(data["files"]), data["downloaded"]),
                data["license"],
            )
        )
    print(format_table(["id", "name", "params", "quants (* = local)", "license"], rows))
    path = user_catalog_file()
    print(
        f"\nuser catalog: {path} ({'present' if path.exists() else 'absent'}); any .gguf path also works as REF"
    )
    return 0


def _quant_list(quants: list[str], local: list[str]) -> str:
    return " ".join(q + ("*" if q in local else "") for q in quants)
