"""`edgeapp estimate REF`: predicted RAM and VRAM of a load, part by part."""

from __future__ import annotations

import argparse

from edgeapp.cli.output import add_json_flag, describe_gpu_layers, emit_json, format_bytes, format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="predict RAM and VRAM for a model, context size and GPU layers",
        description=(
            "Predict the memory a load will use: weights (exact from the GGUF header when the file is here, "
            "approximate from catalog facts when not), KV cache, compute buffers (from a llama.cpp dry run "
            "of the same model graph unless --fast) and overhead, split into RAM and VRAM."
        ),
    )
    parser.add_argument("ref", metavar="REF", help="catalog-id[:QUANT], default[:QUANT] or a .gguf path")
    parser.add_argument(
        "--ctx", type=int, default=2048, metavar="N", help="context size in tokens (default 2048)"
    )
    parser.add_argument(
        "--gpu-layers", default="0", metavar="N|all", help="layers offloaded to the GPU (default 0)"
    )
    parser.add_argument(
        "--fast", action="store_true", help="skip the llama.cpp dry run; use the formula for compute buffers"
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from edgeapp.errors import UsageError
    from edgeapp.estimate import dry_run_estimate, estimate_memory
    from edgeapp.gguf_file import read_header
    from edgeapp.refs import resolve
    from edgeapp.settings import parse_gpu_layers

    if args.ctx < 16:
        raise UsageError(f"--ctx must be at least 16 tokens, not {args.ctx}")
    try:
        layers = parse_gpu_layers(args.gpu_layers)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if layers == "auto":
        raise UsageError("estimate needs a layer count: a number or 'all' (`edgeapp pick` chooses one)")
    model = resolve(args.ref)
    if model.kind == "default" and model.path is None:
        from edgeapp.cli.prepare import progress_to_stderr
        from edgeapp.refs import materialize

        model = materialize(model, None if args.json else progress_to_stderr)  # local and quick: be exact
    if model.path is not None:
        read_header(model.path)  # a corrupt file fails here with a plain message
    gpu_layers = int(layers)
    estimate = (
        estimate_memory(model, args.ctx, gpu_layers)
        if args.fast
        else dry_run_estimate(model, args.ctx, gpu_layers)
    )
    if args.json:
        emit_json(estimate.to_json())
        return 0
    print(render(estimate, model.label))
    return 0


def render(estimate, label: str) -> str:  # type: ignore[no-untyped-def]
    """Return the estimate as a short report with a RAM/VRAM table."""
    e = estimate
    kinds = {
        "dry-run": "exact weights, llama.cpp dry-run compute",
        "header": "exact weights (GGUF header)",
        "catalog": "approximate (catalog facts)",
    }
    rows = [
        ("weights", e.weights_bytes - e.weights_vram_bytes, e.weights_vram_bytes),
        ("repacked weights (CPU)", e.repacked_bytes, 0),
        ("KV cache", e.kv_cache_bytes - e.kv_vram_bytes, e.kv_vram_bytes),
        ("compute (touched)", e.compute_ram_resident_bytes, e.compute_vram_bytes),
        ("overhead", e.ram_bytes - (e.weights_bytes - e.weights_vram_bytes) - e.repacked_bytes
         - (e.kv_cache_bytes - e.kv_vram_bytes) - e.compute_ram_resident_bytes,
         e.vram_bytes - e.weights_vram_bytes - e.kv_vram_bytes - e.compute_vram_bytes),
    ]  # fmt: skip
    table = format_table(
        ["part", "RAM", "VRAM"],
        [(name, format_bytes(ram), format_bytes(vram)) for name, ram, vram in rows]
        + [("total", format_bytes(e.ram_bytes), format_bytes(e.vram_bytes))],
        right=(1, 2),
    )
    head = (
        f"{label} ({e.quant or '?'}) at {e.n_ctx} tokens, {describe_gpu_layers(e.gpu_layers, e.n_layers)} "
        f"— {kinds[e.source]}\ncompute buffer reserved by llama.cpp: {format_bytes(e.compute_bytes)}"
    )
    return f"{head}\n\n{table}"
