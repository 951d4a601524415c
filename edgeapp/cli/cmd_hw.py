"""`edgeapp hw`: what this machine has, and what llama.cpp can use of it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from edgeapp.cli import output

if TYPE_CHECKING:
    from edgeapp.hardware import GpuInfo, HardwareInfo, RamInfo


def register(subparsers: Any) -> None:
    """Add the `hw` command."""
    parser = subparsers.add_parser(
        "hw",
        help="show RAM, CPU features, NVIDIA GPUs, the board and llama.cpp's GPU support",
        description="Show RAM, CPU and its SIMD features, NVIDIA GPUs (through NVML), the board, "
        "and whether the installed llama.cpp can offload to a GPU.",
    )
    output.add_json_flag(parser)
    # Reads /proc, /sys and /etc under another root: how the tests replay real devices.
    parser.add_argument("--root", default="/", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the hardware report (or JSON) and return 0."""
    from edgeapp.hardware import probe_hardware

    hw = probe_hardware(args.root)
    if args.json:
        output.emit_json(hw.to_json())
    else:
        print(format_report(hw))
    return 0


def _ram_line(ram: RamInfo) -> str:
    size = output.format_bytes
    line = f"{size(ram.total_bytes)} total, {size(ram.available_bytes)} available"
    if not ram.swap_total_bytes:
        return line + " (no swap)"
    return line + f" (swap {size(ram.swap_total_bytes)}, {size(ram.swap_free_bytes)} free)"


def _gpu_line(gpu: GpuInfo) -> str:
    size = output.format_bytes
    return (
        f"{gpu.name} · {size(gpu.vram_total_bytes)} VRAM, {size(gpu.vram_free_bytes)} free · "
        f"compute {gpu.compute_capability} · driver {gpu.driver}"
    )


def format_report(hw: HardwareInfo) -> str:
    """Return the human report: one labelled line per fact, values aligned."""
    cpu = hw.cpu
    lines = [
        ("RAM", _ram_line(hw.ram)),
        ("CPU", f"{cpu.model} · {cpu.arch} · {cpu.physical_cores} cores, {cpu.logical_cores} threads"),
        ("", "features: " + (" ".join(cpu.features) or "none that llama.cpp uses")),
    ]
    lines += [(f"GPU {gpu.index}", _gpu_line(gpu)) for gpu in hw.gpus]
    if not hw.gpus:
        lines.append(("GPU", f"none: {hw.gpu_reason}" if hw.gpu_reason else "none"))
    elif hw.unified_memory:
        lines.append(("", "unified memory: the GPU uses system RAM"))
    lines.append(("Board", hw.board or "-"))
    offload = "yes" if hw.gpu_offload_supported else "no (llama.cpp built without a GPU backend)"
    lines.append(("GPU offload", offload))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {value}".rstrip() for label, value in lines)
