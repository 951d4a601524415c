"""`edgeapp pick REF`: the best quant for this machine, with a verdict for every quant."""

from __future__ import annotations

import argparse

from edgeapp.cli.output import add_json_flag, describe_gpu_layers, emit_json, format_bytes, format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pick",
        help="choose the quant and GPU layers that fit this machine",
        description=(
            "For the detected hardware, pick the most precise quant that fits with headroom, fully offloaded "
            "when VRAM allows, otherwise the most layers that fit; say why; give a verdict for every quant "
            "(GPU / partial offload N of M layers / CPU only / too large) with its estimate. With --max-kld "
            "or --min-tps, pick the smallest quant that meets a quality and speed budget from measurements "
            "(`edgeapp bench` / `edgeapp compare`) when they exist, estimates otherwise."
        ),
    )
    parser.add_argument("ref", metavar="REF", help="catalog-id, default, or a .gguf path")
    parser.add_argument(
        "--ctx", type=int, default=2048, metavar="N", help="context size in tokens (default 2048)"
    )
    parser.add_argument(
        "--highest-quality",
        action="store_true",
        help="allow quants whose extra bytes buy little quality here",
    )
    parser.add_argument(
        "--min-free-ram",
        type=float,
        default=None,
        metavar="GiB",
        help="RAM to leave free (default: the larger of 1 GiB and 20%%)",
    )
    parser.add_argument(
        "--max-kld",
        type=float,
        default=None,
        metavar="X",
        help="quality budget: mean KL divergence against the reference",
    )
    parser.add_argument(
        "--min-tps", type=float, default=None, metavar="Y", help="speed budget: generation tokens/s"
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from edgeapp.errors import UsageError
    from edgeapp.hardware import probe_hardware
    from edgeapp.pick import Headroom, pick_quant
    from edgeapp.settings import load_settings

    if args.ctx < 16:
        raise UsageError(f"--ctx must be at least 16 tokens, not {args.ctx}")
    settings = load_settings()
    headroom = Headroom(settings.min_free_ram_bytes, settings.min_free_ram_fraction)
    if args.min_free_ram is not None:
        headroom = Headroom(int(args.min_free_ram * (1 << 30)), 0.0)
    hw = probe_hardware()
    pick = pick_quant(args.ref, hw, args.ctx, headroom, highest_quality=args.highest_quality)
    measured = None
    if args.max_kld is not None or args.min_tps is not None:
        measured = _measured(args, hw, pick)
    if args.json:
        data = pick.to_json()
        if measured is not None:
            data["budget"] = measured.to_json()
            data["quant"] = measured.quant
            data["reason"] = measured.reason
        emit_json(data)
        return 0
    print(render(pick))
    if measured is not None:
        print(f"\nbudget ({measured.basis}): {measured.reason}")
    return 0 if (measured.quant if measured else pick.quant) else 1


def _measured(args, hw, pick):  # type: ignore[no-untyped-def]
    from edgeapp.bench.measured_pick import measured_pick

    fitting = tuple(c.quant for c in pick.candidates if c.verdict != "too_large")
    return measured_pick(args.ref, fitting, args.max_kld, args.min_tps, hw)


def render(pick) -> str:  # type: ignore[no-untyped-def]
    """Return the pick as a sentence and a table of every quant's verdict."""
    rows = [
        (
            ("→ " if c.quant == pick.quant else "  ") + c.quant,
            c.describe(),
            format_bytes(c.ram_bytes),
            format_bytes(c.vram_bytes) if c.vram_bytes else "-",
            "yes" if c.downloaded else "no",
            "exact" if c.estimate.exact else "approx",
        )
        for c in pick.candidates
    ]
    table = format_table(["quant", "verdict", "RAM", "VRAM", "local", "estimate"], rows, right=(2, 3))
    head = f"{pick.model}: {pick.quant or 'nothing fits'}" + (
        f", {describe_gpu_layers(pick.gpu_layers, pick.estimate.n_layers)}"
        if pick.gpu_layers and pick.estimate
        else ""
    )
    return f"{head}\n{pick.reason}\n\n{table}"
