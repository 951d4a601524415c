"""What the installed llama.cpp can do: version, commit, compiled-in backends, GPU offload.

Finding out needs `import llama_cpp`, which the parent process never does (slow, and a native
crash in it would take the app down), so a short subprocess asks and prints JSON. The answer is
cached in the cache directory, keyed on the llama_cpp package's and library directory's mtimes
and LLAMA_CPP_LIB_PATH, so only the first `edgeapp hw` after an install pays for it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from edgeapp import atomic, locations
from edgeapp.errors import signal_description

PROBE_TIMEOUT_S = 60.0
_CACHE_FORMAT = 1
_MARKER = "EDGEAPP_BACKEND_INFO "

# Runs in the child. Drops the working directory from sys.path first: run from inside the
# llama_cpp package, `import llama_cpp` would find llama_cpp/llama_cpp.py instead.
_PROBE_SCRIPT = r"""
import json, os, re, sys
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
out = {"importable": False}
try:
    import llama_cpp
    from llama_cpp import llama_cpp as raw
except BaseException as error:
    out["reason"] = "cannot import llama_cpp: %s: %s" % (type(error).__name__, error)
    print("EDGEAPP_BACKEND_INFO " + json.dumps(out))
    raise SystemExit(0)
import ctypes
lib_dir = str(getattr(raw, "_base_path", "") or "")
out.update(importable=True, reason=None, lib_dir=lib_dir or None,
           llama_cpp_python_version=getattr(llama_cpp, "__version__", None),
           gpu_offload_supported=bool(llama_cpp.llama_supports_gpu_offload()),
           mmap_supported=bool(llama_cpp.llama_supports_mmap()),
           system_info=llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip())
# dlsym on libllama's handle also searches the libraries it links (libggml, libggml-base);
# Windows does not, so the ggml libraries are tried by name too.
libs = [raw._lib]
for name in ("libggml.so", "libggml.dylib", "ggml.dll", "libggml-base.so", "libggml-base.dylib", "ggml-base.dll"):
    if lib_dir and os.path.exists(os.path.join(lib_dir, name)):
        try:
            libs.append(ctypes.CDLL(os.path.join(lib_dir, name)))
        except OSError:
            pass
def sym(name, restype, argtypes=()):
    for lib in libs:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype, fn.argtypes = restype, list(argtypes)
            return fn
    return None
def text(value):
    return value.decode("utf-8", "replace") if value else None
P, S = ctypes.c_void_p, ctypes.c_size_t
for key, name in (("ggml_version", "ggml_version"), ("llama_cpp_commit", "ggml_commit")):
    fn = sym(name, ctypes.c_char_p)
    out[key] = text(fn()) if fn else None
reg_count, reg_get, reg_name = sym("ggml_backend_reg_count", S), sym("ggml_backend_reg_get", P, [S]), sym("ggml_backend_reg_name", ctypes.c_char_p, [P])
if reg_count and reg_get and reg_name:
    out["backends"] = [text(reg_name(reg_get(i))) for i in range(reg_count())]
dev_count, dev_get = sym("ggml_backend_dev_count", S), sym("ggml_backend_dev_get", P, [S])
dev_name, dev_desc = sym("ggml_backend_dev_name", ctypes.c_char_p, [P]), sym("ggml_backend_dev_description", ctypes.c_char_p, [P])
dev_type = sym("ggml_backend_dev_type", ctypes.c_int, [P])
types = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel", 4: "meta"}
if dev_count and dev_get and dev_name and dev_desc and dev_type:
    out["devices"] = [
        {"name": text(dev_name(d)), "description": text(dev_desc(d)), "type": types.get(dev_type(d), "other")}
        for d in (dev_get(i) for i in range(dev_count()))
    ]
found = set()
for entry in (os.listdir(lib_dir) if lib_dir and os.path.isdir(lib_dir) else []):
    match = re.match(r"^(?:lib)?ggml-([A-Za-z0-9_-]+?)(?:\.so(?:\.[0-9.]+)?|\.dylib|\.dll)$", entry)
    if match and match.group(1) != "base":
        found.add(match.group(1))
out["backend_libraries"] = sorted(found)
print("EDGEAPP_BACKEND_INFO " + json.dumps(out))
"""


@dataclass(frozen=True)
class BackendDevice:
    """A device llama.cpp's backends registered: name ("CPU", "CUDA0"), description, type (cpu/gpu/igpu/accel)."""

    name: str
    description: str
    type: str


@dataclass(frozen=True)
class BackendInfo:
    """Facts about the installed llama.cpp; when `importable` is False, `reason` says why."""

    importable: bool
    reason: str | None = None
    llama_cpp_python_version: str | None = None
    ggml_version: str | None = None
    llama_cpp_commit: str | None = None
    system_info: str | None = None
    gpu_offload_supported: bool = False
    mmap_supported: bool = False
    backends: tuple[str, ...] = ()
    devices: tuple[BackendDevice, ...] = ()
    backend_libraries: tuple[str, ...] = ()
    lib_dir: str | None = None

    @property
    def build(self) -> str:
        """Return a short description of the llama.cpp build, e.g. "llama.cpp 0c1e570 (ggml 0.25.3)"."""
        if not self.importable:
            return "not available"
        commit = self.llama_cpp_commit or "unknown commit"
        return f"llama.cpp {commit} (ggml {self.ggml_version or '?'})"

    def to_json(self) -> dict[str, Any]:
        """Return the facts as JSON-ready values (used by `edgeapp --version --json` and the cache)."""
        value = asdict(self)
        value["backends"] = list(self.backends)
        value["backend_libraries"] = list(self.backend_libraries)
        value["devices"] = [asdict(device) for device in self.devices]
        value["build"] = self.build
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> BackendInfo:
        """Return a BackendInfo from `to_json()` output or the probe's JSON; unknown keys are ignored."""
        devices = tuple(
            BackendDevice(str(d.get("name")), str(d.get("description")), str(d.get("type")))
            for d in value.get("devices") or ()
        )
        return cls(
            importable=bool(value.get("importable")),
            reason=value.get("reason"),
            llama_cpp_python_version=value.get("llama_cpp_python_version"),
            ggml_version=value.get("ggml_version"),
            llama_cpp_commit=value.get("llama_cpp_commit"),
            system_info=value.get("system_info"),
            gpu_offload_supported=bool(value.get("gpu_offload_supported")),
            mmap_supported=bool(value.get("mmap_supported")),
            backends=tuple(str(b) for b in value.get("backends") or ()),
            devices=devices,
            backend_libraries=tuple(str(b) for b in value.get("backend_libraries") or ()),
            lib_dir=value.get("lib_dir"),
        )


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _package_directory() -> Path | None:
    """Return the llama_cpp package directory without importing it, or None if not installed."""
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _cache_key(package: Path) -> dict[str, Any]:
    # A reinstall or rebuild replaces the package and lib directories, changing their mtimes.
    lib_path = os.environ.get("LLAMA_CPP_LIB_PATH") or None
    return {
        "format": _CACHE_FORMAT,
        "python": sys.executable,
        "package_dir": str(package),
        "package_mtime_ns": _mtime_ns(package),
        "lib_mtime_ns": _mtime_ns(package / "lib"),
        "llama_cpp_lib_path": lib_path,
        "llama_cpp_lib_path_mtime_ns": _mtime_ns(Path(lib_path)) if lib_path else None,
    }


def probe_in_subprocess(
    interpreter: tuple[str, ...] = (), timeout_s: float = PROBE_TIMEOUT_S
) -> tuple[BackendInfo, bool]:
    """Return what a child interpreter finds in llama_cpp, and whether the answer may be cached.

    `interpreter` replaces `(sys.executable,)` (tests run `python -S`, which cannot see llama_cpp).
    Timeouts and crashes are not cacheable: they may not happen next time.
    """
    command = [*(interpreter or (sys.executable,)), "-c", _PROBE_SCRIPT]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=os.environ.copy()
        )
    except subprocess.TimeoutExpired:
        return BackendInfo(False, f"probing llama.cpp timed out after {timeout_s:g} s"), False
    except OSError as error:
        return BackendInfo(False, f"cannot start {command[0]}: {error}"), False
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(_MARKER):
            try:
                return BackendInfo.from_json(json.loads(line[len(_MARKER) :])), result.returncode == 0
            except (json.JSONDecodeError, AttributeError):
                break
    stderr_tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
    how = signal_description(result.returncode)
    return BackendInfo(False, f"probing llama.cpp failed ({how}): {stderr_tail}"), False


_memo: dict[str, BackendInfo] = {}


def backend_info(refresh: bool = False) -> BackendInfo:
    """Return facts about the installed llama.cpp, from the cache when the install has not changed.

    Never raises: a missing or broken llama-cpp-python gives `importable=False` and a reason.
    `refresh=True` ignores both caches and probes again (about a second).
    """
    package = _package_directory()
    if package is None:
        return BackendInfo(False, "llama-cpp-python is not installed (pip install llama-cpp-python)")
    key = _cache_key(package)
    memo_key = json.dumps(key, sort_keys=True)
    try:
        cache_file: Path | None = locations.cache_directory() / "backend_info.json"
    except OSError:
        cache_file = None  # No writable cache directory: probe every time.
    if not refresh:
        if memo_key in _memo:
            return _memo[memo_key]
        cached = atomic.read_json(cache_file) if cache_file else None
        if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("info"), dict):
            info = BackendInfo.from_json(cached["info"])
            _memo[memo_key] = info
            return info
    info, cacheable = probe_in_subprocess()
    lib_path = os.environ.get("LLAMA_CPP_LIB_PATH")
    if not info.importable and lib_path:
        info = replace(
            info, reason=f"{info.reason} (LLAMA_CPP_LIB_PATH={lib_path}; unset it to use the bundled library)"
        )
    if cacheable:
        _memo[memo_key] = info
    if cacheable and cache_file is not None:
        # A read-only cache only costs the next run a second.
        with contextlib.suppress(OSError):
            atomic.atomic_write_json(cache_file, {"key": key, "info": info.to_json()})
    return info
