"""Facts about the installed llama.cpp (a CPU build here), probed in a subprocess and cached."""

from __future__ import annotations

import importlib.metadata
import json
import sys

import pytest

from edgeapp import backend_info as backend_info_module
from edgeapp.backend_info import BackendInfo, backend_info, probe_in_subprocess
from edgeapp.cli.main import main


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    for name in ("CONFIG", "DATA", "CACHE"):
        monkeypatch.setenv(f"EDGEAPP_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.delenv("LLAMA_CPP_LIB_PATH", raising=False)
    # Each test starts without the in-process memo (the disk cache lives in tmp_path).
    monkeypatch.setattr(backend_info_module, "_memo", {})


def test_llama_cpp_built_without_cuda():
    info = backend_info(refresh=True)
    assert info.importable, info.reason
    assert info.reason is None
    assert info.llama_cpp_python_version == importlib.metadata.version("llama-cpp-python")
    assert info.gpu_offload_supported is False
    assert info.mmap_supported is True
    assert "CPU" in info.backends
    assert not {"CUDA", "Vulkan", "Metal", "ROCm"} & set(info.backends)
    assert "cuda" not in info.backend_libraries
    assert "cpu" in info.backend_libraries
    assert [d.type for d in info.devices] == ["cpu"]
    assert info.system_info.startswith("CPU : ")
    assert info.ggml_version and info.ggml_version[0].isdigit()
    assert info.build.startswith("llama.cpp ")


def test_result_is_cached_on_disk_and_keyed_on_the_install(tmp_path, monkeypatch):
    first = backend_info()
    cache_file = tmp_path / "cache" / "backend_info.json"
    cached = json.loads(cache_file.read_text())
    assert cached["info"]["llama_cpp_python_version"] == first.llama_cpp_python_version
    assert cached["key"]["package_dir"].endswith("llama_cpp")

    # A changed cache file is believed while the key matches: proof the second call reads it.
    cached["info"]["llama_cpp_python_version"] = "from-the-cache"
    cache_file.write_text(json.dumps(cached))
    monkeypatch.setattr(backend_info_module, "_memo", {})
    assert backend_info().llama_cpp_python_version == "from-the-cache"
    # refresh=True probes again and rewrites the cache.
    assert backend_info(refresh=True).llama_cpp_python_version == first.llama_cpp_python_version

    # Pointing llama_cpp at another library directory changes the key: a new probe.
    cached["info"]["llama_cpp_python_version"] = "from-the-cache"
    cache_file.write_text(json.dumps(cached))
    monkeypatch.setattr(backend_info_module, "_memo", {})
    monkeypatch.setenv("LLAMA_CPP_LIB_PATH", first.lib_dir)
    again = backend_info()
    assert again.llama_cpp_python_version == first.llama_cpp_python_version
    assert json.loads(cache_file.read_text())["key"]["llama_cpp_lib_path"] == first.lib_dir


def test_a_lib_path_without_llama_is_reported_not_raised(tmp_path, monkeypatch):
    empty = tmp_path / "no-libs"
    empty.mkdir()
    monkeypatch.setenv("LLAMA_CPP_LIB_PATH", str(empty))
    info = backend_info()
    assert info.importable is False
    assert info.gpu_offload_supported is False
    assert info.backends == ()
    assert "cannot import llama_cpp" in info.reason
    assert f"LLAMA_CPP_LIB_PATH={empty}" in info.reason


def test_interpreter_without_llama_cpp():
    # -S skips site-packages, where llama_cpp lives.
    info, cacheable = probe_in_subprocess((sys.executable, "-S"))
    assert info.importable is False
    assert info.reason.startswith("cannot import llama_cpp: ModuleNotFoundError")
    assert cacheable


def test_llama_cpp_python_not_installed(monkeypatch):
    # None in sys.modules is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    info = backend_info()
    assert info == BackendInfo(False, "llama-cpp-python is not installed (pip install llama-cpp-python)")


def test_a_crashing_probe_is_reported_and_not_cached():
    # The first -c wins: this child aborts like a native crash in llama.cpp would.
    info, cacheable = probe_in_subprocess((sys.executable, "-c", "import os; os.abort()"))
    assert info.importable is False
    assert info.reason.startswith("probing llama.cpp failed (SIGABRT")
    assert not cacheable


def test_a_probe_that_runs_too_long_is_reported_and_not_cached():
    info, cacheable = probe_in_subprocess(
        (sys.executable, "-c", "import time; time.sleep(30)"), timeout_s=0.5
    )
    assert info.reason == "probing llama.cpp timed out after 0.5 s"
    assert not cacheable


def test_json_round_trip():
    info = backend_info()
    doc = json.loads(json.dumps(info.to_json()))
    assert doc["build"] == info.build
    assert BackendInfo.from_json(doc) == info


def test_version_command(capsys):
    assert main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    from edgeapp import __version__

    assert lines[0] == f"edgeapp {__version__}"
    assert lines[1].startswith(
        f"llama-cpp-python {importlib.metadata.version('llama-cpp-python')} · llama.cpp "
    )
    assert lines[2] == "backends: CPU"
    assert lines[3] == "GPU offload: no"


def test_version_command_json(capsys):
    assert main(["--version", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["llama_cpp_python"] == importlib.metadata.version("llama-cpp-python")
    assert doc["backends"] == ["CPU"]
    assert doc["gpu_offload_supported"] is False
    assert doc["llama_cpp"]["importable"] is True
