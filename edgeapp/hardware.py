"""What this machine has: RAM, CPU and its SIMD features, NVIDIA GPUs, the board, llama.cpp's GPU support.

Linux facts are read from files under a root path (`/proc/meminfo`, `/proc/cpuinfo`,
`/sys/devices/system/cpu/*/topology`, `/proc/device-tree/model`, `/etc/nv_tegra_release`), so the
tests run the same parser against trees copied from real devices. Other systems use psutil.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# The CPU features llama.cpp's kernels choose between, in the order they are shown.
X86_FEATURES: tuple[str, ...] = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni")
ARM_FEATURES: tuple[str, ...] = ("neon", "dotprod", "sve", "i8mm")
# Linux's ARM names for the features above (`Features` line of /proc/cpuinfo).
_ARM_FLAG_NAMES = {"asimd": "neon", "neon": "neon", "asimddp": "dotprod", "sve": "sve", "i8mm": "i8mm"}

# (implementer, part) from /proc/cpuinfo: ARM's cores carry no model name on Linux.
_ARM_PARTS = {
    ("0x41", "0xd03"): "Cortex-A53",
    ("0x41", "0xd04"): "Cortex-A35",
    ("0x41", "0xd05"): "Cortex-A55",
    ("0x41", "0xd07"): "Cortex-A57",
    ("0x41", "0xd08"): "Cortex-A72",
    ("0x41", "0xd09"): "Cortex-A73",
    ("0x41", "0xd0a"): "Cortex-A75",
    ("0x41", "0xd0b"): "Cortex-A76",
    ("0x41", "0xd0c"): "Neoverse-N1",
    ("0x41", "0xd0d"): "Cortex-A77",
    ("0x41", "0xd40"): "Neoverse-V1",
    ("0x41", "0xd41"): "Cortex-A78",
    ("0x41", "0xd42"): "Cortex-A78AE",
    ("0x41", "0xd44"): "Cortex-X1",
    ("0x41", "0xd46"): "Cortex-A510",
    ("0x41", "0xd47"): "Cortex-A710",
    ("0x41", "0xd48"): "Cortex-X2",
    ("0x41", "0xd49"): "Neoverse-N2",
    ("0x41", "0xd4f"): "Neoverse-V2",
    ("0x4e", "0x004"): "NVIDIA Carmel",
    ("0x61", "0x000"): "Apple",
}

_GIB = 1024**3


@dataclass(frozen=True)
class RamInfo:
    """System memory in bytes; `available_bytes` is what can be allocated without swapping."""

    total_bytes: int
    available_bytes: int
    swap_total_bytes: int = 0
    swap_free_bytes: int = 0
    cgroup_limit_bytes: int | None = None  # a container's memory limit, when it is below the host's RAM


@dataclass(frozen=True)
class CpuInfo:
    """The CPU: model, architecture (x86_64, aarch64, ...), core counts and llama.cpp-relevant features."""

    model: str
    arch: str
    physical_cores: int
    logical_cores: int
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class GpuInfo:
    """One NVIDIA GPU as NVML reports it; compute capability like "8.9"."""

    index: int
    name: str
    vram_total_bytes: int
    vram_free_bytes: int
    driver: str
    compute_capability: str


@dataclass(frozen=True)
class HardwareInfo:
    """Everything the picker, the estimator and the bench need to know about the machine."""

    ram: RamInfo
    cpu: CpuInfo
    gpus: tuple[GpuInfo, ...]
    gpu_reason: str | None
    board: str | None
    unified_memory: bool
    gpu_offload_supported: bool

    def to_json(self) -> dict[str, Any]:
        """Return the `edgeapp hw --json` document (fields may be added, never renamed)."""
        return {
            "ram": asdict(self.ram),
            "cpu": {**asdict(self.cpu), "features": list(self.cpu.features)},
            "gpus": [asdict(gpu) for gpu in self.gpus],
            "gpu_reason": self.gpu_reason,
            "board": self.board,
            "unified_memory": self.unified_memory,
            "gpu_offload_supported": self.gpu_offload_supported,
        }


def _read(root: Path, relative: str) -> str | None:
    try:
        return (root / relative).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _parse_meminfo(text: str) -> RamInfo:
    """Return RamInfo from /proc/meminfo text (values there are kB, i.e. KiB)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key.strip()] = int(fields[0]) * 1024
    total = values.get("MemTotal", 0)
    # Kernels before 3.14 have no MemAvailable; free + page cache is the old estimate.
    available = values.get("MemAvailable")
    if available is None:
        available = values.get("MemFree", 0) + values.get("Buffers", 0) + values.get("Cached", 0)
    return RamInfo(total, min(available, total), values.get("SwapTotal", 0), values.get("SwapFree", 0))


def _cpuinfo_blocks(text: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Return the per-processor blocks of /proc/cpuinfo and the trailing machine-wide lines."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\n\s*\n", text):
        block = {}
        for line in chunk.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                block[key.strip()] = value.strip()
        if block:
            blocks.append(block)
    processors = [b for b in blocks if "processor" in b]
    extra: dict[str, str] = {}
    for block in blocks:
        if "processor" not in block:
            extra.update(block)
    return processors, extra


def _infer_arch(processors: list[dict[str, str]]) -> str:
    first = processors[0] if processors else {}
    if "flags" in first:
        return "x86_64" if " lm " in f" {first['flags']} " else "i686"
    arm_version = first.get("CPU architecture", "")
    if arm_version:
        return "aarch64" if arm_version.startswith("8") or arm_version.startswith("9") else "armv7l"
    return "unknown"


def _normalise_machine(machine: str) -> str:
    # One spelling per architecture, whatever the OS calls it.
    lowered = machine.lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(lowered, lowered or "unknown")


def _cpu_model(processors: list[dict[str, str]]) -> str:
    names: list[str] = []
    for block in processors:
        name = block.get("model name") or _arm_core_name(block)
        if name and name not in names:
            names.append(name)
    return " + ".join(" ".join(n.split()) for n in names) or "unknown"


def _arm_core_name(block: dict[str, str]) -> str | None:
    implementer, part = block.get("CPU implementer"), block.get("CPU part")
    if implementer is None or part is None:
        return None
    return _ARM_PARTS.get((implementer.lower(), part.lower()), f"ARM implementer {implementer} part {part}")


def _features(processors: list[dict[str, str]]) -> tuple[str, ...]:
    first = processors[0] if processors else {}
    if "flags" in first:
        flags = set(first["flags"].split())
        return tuple(name for name in X86_FEATURES if name in flags)
    # big.LITTLE: only what every core has is safe to use.
    common: set[str] | None = None
    for block in processors:
        names = {_ARM_FLAG_NAMES[f] for f in block.get("Features", "").split() if f in _ARM_FLAG_NAMES}
        common = names if common is None else common & names
    return tuple(name for name in ARM_FEATURES if name in (common or set()))


def _count_cpu_list(text: str) -> int:
    """Return how many CPUs a kernel CPU list such as "0-3,6" names."""
    count = 0
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        if first.strip().isdigit():
            count += int(last) - int(first) + 1 if last else 1
    return count


def _physical_cores(root: Path, processors: list[dict[str, str]], logical: int) -> int:
    """Return the number of physical cores: distinct SMT sibling sets, else cpuinfo's core ids."""
    cpu_dir = root / "sys/devices/system/cpu"
    sibling_sets: set[str] = set()
    try:
        entries = [e for e in os.scandir(cpu_dir) if re.fullmatch(r"cpu\d+", e.name)]
    except OSError:
        entries = []
    for entry in entries:
        # A (package, core_id) pair is not unique on some ARM kernels (core_id restarts per
        # cluster); the list of SMT siblings is.
        for name in ("core_cpus_list", "thread_siblings_list"):
            text = _read(Path(entry.path), f"topology/{name}")
            if text is not None:
                sibling_sets.add(text.strip())
                break
    if sibling_sets:
        return len(sibling_sets)
    cores = {(b.get("physical id"), b.get("core id")) for b in processors if "core id" in b}
    return len(cores) or logical


def _board(root: Path, machine_lines: dict[str, str]) -> str | None:
    text = _read(root, "proc/device-tree/model")
    if text is not None:
        model = text.replace("\x00", "").strip()
        if model:
            return model
    # Raspberry Pi kernels repeat the model at the end of /proc/cpuinfo.
    return machine_lines.get("Model") or None


def _cgroup_memory(root: Path) -> tuple[int, int] | None:
    """Return (limit, reclaimable-adjusted usage) of this process's memory cgroup, if it is limited.

    Containers see the host's /proc/meminfo; their real ceiling is the cgroup's limit
    (v2: memory.max / memory.current, v1: memory.limit_in_bytes / memory.usage_in_bytes).
    Page cache the kernel can drop (inactive file pages) does not count as used.
    """
    membership = _read(root, "proc/self/cgroup") or ""
    for line in membership.splitlines():
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        v2 = controllers == ""
        if not v2 and "memory" not in controllers.split(","):
            continue
        base = "sys/fs/cgroup" + ("" if v2 else "/memory") + path.rstrip("/")
        limit_text = _read(root, f"{base}/{'memory.max' if v2 else 'memory.limit_in_bytes'}")
        usage_text = _read(root, f"{base}/{'memory.current' if v2 else 'memory.usage_in_bytes'}")
        if (
            not limit_text
            or not usage_text
            or not limit_text.strip().isdigit()
            or not usage_text.strip().isdigit()
        ):
            continue
        limit, usage = int(limit_text), int(usage_text)
        if limit >= 1 << 60:  # "unlimited" in v1
            continue
        stat = dict(
            (fields[0], int(fields[1]))
            for fields in (ln.split() for ln in (_read(root, f"{base}/memory.stat") or "").splitlines())
            if len(fields) == 2 and fields[1].isdigit()
        )
        reclaimable = stat.get("inactive_file", stat.get("total_inactive_file", 0))
        return limit, max(0, usage - reclaimable)
    return None


def _apply_cgroup_limit(ram: RamInfo, root: Path) -> RamInfo:
    """Return `ram` capped by the memory cgroup's limit, when that is the tighter ceiling."""
    cgroup = _cgroup_memory(root)
    if cgroup is None:
        return ram
    limit, used = cgroup
    if ram.total_bytes and limit >= ram.total_bytes:
        return ram
    return RamInfo(
        total_bytes=limit,
        available_bytes=max(0, min(ram.available_bytes, limit - used)),
        swap_total_bytes=ram.swap_total_bytes,
        swap_free_bytes=ram.swap_free_bytes,
        cgroup_limit_bytes=limit,
    )


def _probe_linux(root: Path, is_host: bool) -> tuple[RamInfo, CpuInfo, str | None, bool]:
    ram = _apply_cgroup_limit(_parse_meminfo(_read(root, "proc/meminfo") or ""), root)
    processors, machine_lines = _cpuinfo_blocks(_read(root, "proc/cpuinfo") or "")
    logical = len(processors)
    if logical == 0:
        logical = _count_cpu_list(_read(root, "sys/devices/system/cpu/online") or "")
    if logical == 0 and is_host:
        logical = os.cpu_count() or 1
    arch = _normalise_machine(platform.machine()) if is_host else _infer_arch(processors)
    cpu = CpuInfo(
        model=_cpu_model(processors),
        arch=arch,
        physical_cores=_physical_cores(root, processors, logical),
        logical_cores=logical,
        features=_features(processors),
    )
    board = _board(root, machine_lines)
    jetson = (root / "etc/nv_tegra_release").exists() or "jetson" in (board or "").lower()
    return ram, cpu, board, jetson


def _probe_psutil() -> tuple[RamInfo, CpuInfo]:
    """Return RAM and CPU on systems without /proc (macOS, Windows)."""
    import psutil

    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    ram = RamInfo(int(memory.total), int(memory.available), int(swap.total), int(swap.free))
    arch = _normalise_machine(platform.machine())
    logical = psutil.cpu_count(logical=True) or 1
    # Every Apple Silicon core has NEON and dot product; x86 flags are not exposed portably.
    features = ("neon", "dotprod") if sys.platform == "darwin" and arch == "aarch64" else ()
    cpu = CpuInfo(
        model=_macos_cpu_model() or platform.processor() or "unknown",
        arch=arch,
        physical_cores=psutil.cpu_count(logical=False) or logical,
        logical_cores=logical,
        features=features,
    )
    return ram, cpu


def _macos_cpu_model() -> str | None:
    if sys.platform != "darwin":
        return None
    import subprocess

    try:
        result = subprocess.run(
            ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def probe_hardware(
    root: str | Path = "/",
    *,
    nvml_module: ModuleType | None = None,
    gpu_offload_supported: bool | None = None,
) -> HardwareInfo:
    """Return what this machine (or the device tree copied under `root`) has; never raises for missing facts.

    Args:
        root: where /proc, /sys and /etc are read from; anything but "/" is a copied tree, whose
            architecture comes from its cpuinfo and whose GPUs are not probed (NVML describes
            this machine) unless `nvml_module` is given.
        nvml_module: replaces pynvml (tests).
        gpu_offload_supported: whether llama.cpp can offload; None asks `backend_info()`, which is
            cached on disk after the first call (that one runs a subprocess, about a second).
    """
    root = Path(root)
    is_host = root == Path("/")
    apple_silicon = is_host and sys.platform == "darwin" and platform.machine() == "arm64"
    if is_host and not sys.platform.startswith("linux"):
        ram, cpu = _probe_psutil()
        board, jetson = ("Apple Silicon Mac" if apple_silicon else None), False
    else:
        ram, cpu, board, jetson = _probe_linux(root, is_host)
    if is_host or nvml_module is not None:
        from edgeapp.nvml import probe_gpus

        gpus, gpu_reason = probe_gpus(nvml_module)
    else:
        gpus, gpu_reason = (), f"not probed: hardware read from {root}"
    if jetson and not gpus:
        gpu_reason = "Jetson: the GPU shares system RAM (unified memory); NVML is not available"
    if apple_silicon:
        gpu_reason = "Apple Silicon: the GPU shares system RAM (unified memory); Metal, not NVML"
    if gpu_offload_supported is None:
        from edgeapp.backend_info import backend_info

        gpu_offload_supported = backend_info().gpu_offload_supported
    return HardwareInfo(
        ram=ram,
        cpu=cpu,
        gpus=gpus,
        gpu_reason=gpu_reason,
        board=board,
        unified_memory=jetson or apple_silicon,
        gpu_offload_supported=gpu_offload_supported,
    )


def _gib(n: int) -> str:
    return f"{n / _GIB:.1f}"


def probe_summary(hw: HardwareInfo) -> str:
    """Return one line describing `hw` for a status bar or a report header."""
    parts = [hw.board] if hw.board else []
    parts.append(hw.cpu.arch)
    parts.append(f"{hw.cpu.physical_cores} cores")
    parts.append(f"{_gib(hw.ram.total_bytes)} GiB RAM ({_gib(hw.ram.available_bytes)} free)")
    for gpu in hw.gpus:
        parts.append(f"{gpu.name} {_gib(gpu.vram_total_bytes)} GiB ({_gib(gpu.vram_free_bytes)} free)")
    if hw.unified_memory:
        parts.append("GPU shares RAM (unified memory)")
    elif not hw.gpus:
        parts.append(f"no NVIDIA GPU: {hw.gpu_reason}" if hw.gpu_reason else "no NVIDIA GPU")
    if hw.gpus and not hw.gpu_offload_supported:
        parts.append("llama.cpp built without GPU offload")
    return " · ".join(parts)
