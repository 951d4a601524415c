"""The hardware probe against /proc and /sys trees of real devices, and on this machine."""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path
from types import SimpleNamespace

import pynvml
import pytest

from edgeapp.cli.main import main
from edgeapp.hardware import (
    ARM_FEATURES,
    X86_FEATURES,
    CpuInfo,
    HardwareInfo,
    RamInfo,
    probe_hardware,
    probe_summary,
)

DEVICES = Path(__file__).parent / "fixtures" / "devices"
KIB = 1024


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    for name in ("CONFIG", "DATA", "CACHE"):
        monkeypatch.setenv(f"EDGEAPP_{name}_DIR", str(tmp_path / name.lower()))


EXPECTED = {
    "rpi5-8gb": (
        RamInfo(8245632 * KIB, 7712528 * KIB, 524272 * KIB, 524272 * KIB),
        CpuInfo("Cortex-A76", "aarch64", 4, 4, ("neon", "dotprod")),
        "Raspberry Pi 5 Model B Rev 1.0",
        False,
    ),
    "rpi4-4gb": (
        RamInfo(3884096 * KIB, 3514220 * KIB, 102396 * KIB, 102396 * KIB),
        CpuInfo("Cortex-A72", "aarch64", 4, 4, ("neon",)),
        "Raspberry Pi 4 Model B Rev 1.4",
        False,
    ),
    "jetson-orin-nano": (
        RamInfo(7620500 * KIB, 6608404 * KIB, 3810240 * KIB, 3810240 * KIB),
        # core_id restarts at 0 in the second cluster: six cores, not four.
        CpuInfo("Cortex-A78AE", "aarch64", 6, 6, ("neon", "dotprod")),
        "NVIDIA Jetson Orin Nano Developer Kit",
        True,
    ),
    "x86-laptop-i7-1165g7": (
        RamInfo(16107540 * KIB, 12624784 * KIB, 2097148 * KIB, 2097148 * KIB),
        CpuInfo(
            "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz",
            "x86_64",
            4,
            8,
            ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni"),
        ),
        None,
        False,
    ),
}


@pytest.mark.parametrize("device", sorted(EXPECTED))
def test_device_trees_parse_to_the_known_values(device):
    ram, cpu, board, unified = EXPECTED[device]
    hw = probe_hardware(DEVICES / device, gpu_offload_supported=False)
    assert hw.ram == ram
    assert hw.cpu == cpu
    assert hw.board == board
    assert hw.unified_memory is unified
    assert hw.gpus == ()
    assert hw.gpu_offload_supported is False
    if unified:
        assert "unified memory" in hw.gpu_reason
    else:
        # The GPUs of this machine say nothing about a copied tree.
        assert hw.gpu_reason.startswith("not probed")


def test_pi4_lacks_the_dot_product_the_pi5_has():
    pi4 = probe_hardware(DEVICES / "rpi4-4gb", gpu_offload_supported=False)
    pi5 = probe_hardware(DEVICES / "rpi5-8gb", gpu_offload_supported=False)
    assert "dotprod" not in pi4.cpu.features
    assert "dotprod" in pi5.cpu.features


def test_without_sys_topology_cores_come_from_cpuinfo(tmp_path):
    root = tmp_path / "laptop"
    shutil.copytree(DEVICES / "x86-laptop-i7-1165g7", root)
    shutil.rmtree(root / "sys")
    cpu = probe_hardware(root, gpu_offload_supported=False).cpu
    assert (cpu.physical_cores, cpu.logical_cores) == (4, 8)


def test_pi_without_device_tree_takes_the_board_from_cpuinfo(tmp_path):
    root = tmp_path / "pi4"
    shutil.copytree(DEVICES / "rpi4-4gb", root)
    shutil.rmtree(root / "proc" / "device-tree")
    assert probe_hardware(root, gpu_offload_supported=False).board == "Raspberry Pi 4 Model B Rev 1.4"


def test_old_kernel_without_memavailable_estimates_it(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text(
        "MemTotal:        1000000 kB\nMemFree:          200000 kB\nBuffers:           10000 kB\n"
        "Cached:           300000 kB\nSwapTotal:              0 kB\nSwapFree:               0 kB\n"
    )
    assert probe_hardware(tmp_path, gpu_offload_supported=False).ram == RamInfo(
        1000000 * KIB, 510000 * KIB, 0, 0
    )


def test_an_empty_tree_gives_unknowns_not_an_exception(tmp_path):
    hw = probe_hardware(tmp_path, gpu_offload_supported=False)
    assert hw.ram == RamInfo(0, 0, 0, 0)
    assert hw.cpu == CpuInfo("unknown", "unknown", 0, 0, ())
    assert hw.board is None


def laptop_nvml() -> SimpleNamespace:
    """Return an NVML stand-in with one 4 GiB laptop GPU (tests/test_nvml.py covers NVML itself)."""
    memory = SimpleNamespace(total=4 * 1024**3, free=3 * 1024**3)
    return SimpleNamespace(
        NVMLError=pynvml.NVMLError,
        NVMLError_LibraryNotFound=pynvml.NVMLError_LibraryNotFound,
        NVMLError_DriverNotLoaded=pynvml.NVMLError_DriverNotLoaded,
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlSystemGetDriverVersion=lambda: "550.54.15",
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetName=lambda handle: "NVIDIA GeForce RTX 3050 Laptop GPU",
        nvmlDeviceGetMemoryInfo=lambda handle: memory,
        nvmlDeviceGetCudaComputeCapability=lambda handle: (8, 6),
    )


def test_a_copied_tree_with_an_nvml_module_lists_its_gpus():
    hw = probe_hardware(
        DEVICES / "x86-laptop-i7-1165g7", nvml_module=laptop_nvml(), gpu_offload_supported=True
    )
    assert [gpu.name for gpu in hw.gpus] == ["NVIDIA GeForce RTX 3050 Laptop GPU"]
    assert hw.gpu_reason is None
    summary = probe_summary(hw)
    assert "NVIDIA GeForce RTX 3050 Laptop GPU 4.0 GiB (3.0 free)" in summary
    assert "no NVIDIA GPU" not in summary


def test_this_machine():
    hw = probe_hardware("/", gpu_offload_supported=False)
    assert 0 < hw.ram.available_bytes <= hw.ram.total_bytes
    assert hw.cpu.logical_cores == os.cpu_count()
    assert 1 <= hw.cpu.physical_cores <= hw.cpu.logical_cores
    machine = platform.machine().lower()
    assert hw.cpu.arch == {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    known = X86_FEATURES if hw.cpu.arch == "x86_64" else ARM_FEATURES
    assert set(hw.cpu.features) <= set(known)
    if Path("/proc/cpuinfo").exists() and hw.cpu.arch == "x86_64":
        flags = set(Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0].split())
        assert set(hw.cpu.features) == {f for f in X86_FEATURES if f in flags}
    # Either GPUs and no reason, or no GPU and a reason: never an exception.
    assert bool(hw.gpus) == (hw.gpu_reason is None)


def test_gpu_offload_comes_from_the_installed_llama_cpp():
    from edgeapp.backend_info import backend_info

    hw = probe_hardware(DEVICES / "rpi5-8gb")
    assert hw.gpu_offload_supported is backend_info().gpu_offload_supported


def test_json_has_the_fields_scripts_rely_on():
    hw = probe_hardware(DEVICES / "x86-laptop-i7-1165g7", gpu_offload_supported=False)
    doc = json.loads(json.dumps(hw.to_json()))
    assert set(doc["ram"]) >= {"total_bytes", "available_bytes"}
    assert set(doc["cpu"]) >= {"model", "arch", "physical_cores", "logical_cores", "features"}
    assert doc["cpu"]["features"] == ["avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni"]
    assert doc["gpus"] == []
    assert {"board", "gpu_offload_supported", "gpu_reason", "unified_memory"} <= set(doc)
    gpu_doc = HardwareInfo(hw.ram, hw.cpu, (), None, None, False, False).to_json()
    assert gpu_doc["gpu_reason"] is None


def test_summary_of_a_machine_without_gpu():
    hw = probe_hardware(DEVICES / "rpi4-4gb", gpu_offload_supported=False)
    assert probe_summary(hw) == (
        "Raspberry Pi 4 Model B Rev 1.4 · aarch64 · 4 cores · 3.7 GiB RAM (3.4 free) · "
        f"no NVIDIA GPU: not probed: hardware read from {DEVICES / 'rpi4-4gb'}"
    )
    jetson = probe_hardware(DEVICES / "jetson-orin-nano", gpu_offload_supported=True)
    assert probe_summary(jetson).endswith("· GPU shares RAM (unified memory)")


def test_cli_json_matches_the_probe(capsys):
    root = DEVICES / "rpi5-8gb"
    assert main(["hw", "--json", "--root", str(root)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == probe_hardware(root).to_json()


def test_cli_report_for_people(capsys):
    assert main(["hw", "--root", str(DEVICES / "jetson-orin-nano")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("RAM          7.27 GiB total, 6.3 GiB available (swap 3.63 GiB")
    assert lines[1] == "CPU          Cortex-A78AE · aarch64 · 6 cores, 6 threads"
    assert lines[2] == "             features: neon dotprod"
    assert lines[3].startswith("GPU          none: Jetson: the GPU shares system RAM")
    assert lines[4] == "Board        NVIDIA Jetson Orin Nano Developer Kit"
    assert lines[5].startswith("GPU offload  ")


def test_a_container_memory_limit_caps_total_and_available_ram() -> None:
    hw = probe_hardware(DEVICES / "container-cgroup2-2gb", gpu_offload_supported=False)
    assert hw.ram.total_bytes == 2 * 1024**3
    assert hw.ram.cgroup_limit_bytes == 2 * 1024**3
    # used = memory.current - inactive_file = 700 MiB - 300 MiB
    assert hw.ram.available_bytes == 2 * 1024**3 - (734003200 - 314572800)


def test_cgroup_v1_limit_is_read_too(tmp_path: Path) -> None:
    root = tmp_path / "v1"
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/meminfo").write_text("MemTotal: 16000000 kB\nMemAvailable: 15000000 kB\n")
    (root / "proc/self/cgroup").write_text("4:memory:/docker/abc\n3:cpu:/docker/abc\n")
    group = root / "sys/fs/cgroup/memory/docker/abc"
    group.mkdir(parents=True)
    (group / "memory.limit_in_bytes").write_text(str(1024**3))
    (group / "memory.usage_in_bytes").write_text(str(100 * 1024**2))
    (group / "memory.stat").write_text("total_inactive_file 0\n")
    hw = probe_hardware(root, gpu_offload_supported=False)
    assert hw.ram.total_bytes == 1024**3 and hw.ram.available_bytes == 1024**3 - 100 * 1024**2


def test_an_unlimited_cgroup_leaves_ram_alone(tmp_path: Path) -> None:
    root = tmp_path / "v1"
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/meminfo").write_text("MemTotal: 16000000 kB\nMemAvailable: 15000000 kB\n")
    (root / "proc/self/cgroup").write_text("4:memory:/\n")
    (root / "sys/fs/cgroup/memory").mkdir(parents=True)
    (root / "sys/fs/cgroup/memory/memory.limit_in_bytes").write_text(str(9223372036854771712))
    (root / "sys/fs/cgroup/memory/memory.usage_in_bytes").write_text(str(1024**3))
    hw = probe_hardware(root, gpu_offload_supported=False)
    assert hw.ram.total_bytes == 16000000 * 1024 and hw.ram.cgroup_limit_bytes is None
