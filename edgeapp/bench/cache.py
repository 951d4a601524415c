"""Measurements remembered per machine: benchmark and quality results keyed by what was measured.

A measurement belongs to a machine (a fingerprint of the CPU, RAM, GPUs and llama.cpp build: a
new GPU driver or llama.cpp upgrade starts afresh), a model file (its sha256, so a renamed or
re-downloaded file is recognised and a changed one is not), and the conditions that make two
measurements comparable (context, GPU layers, text, reference...). One JSON file per machine in
the measurements directory, rewritten atomically under a file lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from filelock import FileLock

from edgeapp.atomic import atomic_write_json, read_json
from edgeapp.locations import measurements_directory

if TYPE_CHECKING:
    from edgeapp.hardware import HardwareInfo

CACHE_FORMAT = 1
_GIB = 1024**3
_HASH_BLOCK_BYTES = 8 * 1024 * 1024
Kind = Literal["bench", "quality"]


@dataclass(frozen=True)
class MachineKey:
    """A short id for this machine and the facts it was computed from."""

    id: str
    facts: dict[str, Any]


def machine_key(hw: HardwareInfo, build: str | None = None) -> MachineKey:
    """Return the fingerprint of `hw` (and the llama.cpp build; None asks backend_info)."""
    if build is None:
        from edgeapp.backend_info import backend_info

        build = backend_info().build
    facts = {
        "cpu": hw.cpu.model,
        "arch": hw.cpu.arch,
        "physical_cores": hw.cpu.physical_cores,
        "logical_cores": hw.cpu.logical_cores,
        # Rounded: the kernel reports a few MiB more or less after a firmware or driver change.
        "ram_gib": round(hw.ram.total_bytes / _GIB),
        "board": hw.board,
        "gpus": [[gpu.name, round(gpu.vram_total_bytes / _GIB)] for gpu in hw.gpus],
        "gpu_offload": hw.gpu_offload_supported,
        "llama_cpp": build,
    }
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
    return MachineKey(digest[:16], facts)


@dataclass(frozen=True)
class FileIdentity:
    """What identifies a model file across renames: its content hash, plus size and name for people."""

    sha256: str
    size_bytes: int
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size_bytes": self.size_bytes, "name": self.name}


def file_identity(path: str | os.PathLike[str]) -> FileIdentity:
    """Return the identity of `path`, hashing it only if its size or mtime changed since last time."""
    path = Path(path).resolve()
    stat = path.stat()
    index_path = measurements_directory() / "file-hashes.json"
    key = str(path)
    with FileLock(str(index_path) + ".lock"):
        index = read_json(index_path, default={})
        if not isinstance(index, dict):
            index = {}
        known = index.get(key)
        if (
            isinstance(known, dict)
            and known.get("size") == stat.st_size
            and known.get("mtime_ns") == stat.st_mtime_ns
        ):
            return FileIdentity(str(known["sha256"]), stat.st_size, path.name)
    digest = _sha256(path)
    with FileLock(str(index_path) + ".lock"):
        index = read_json(index_path, default={})
        if not isinstance(index, dict):
            index = {}
        index[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        atomic_write_json(index_path, index)
    return FileIdentity(digest, stat.st_size, path.name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Measurement:
    """One remembered result: a bench run or a quality row, with what makes it comparable."""

    kind: Kind
    file: FileIdentity
    model: str
    quant: str | None
    conditions: dict[str, Any]
    values: dict[str, Any]
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file.to_json(),
            "model": self.model,
            "quant": self.quant,
            "conditions": self.conditions,
            "values": self.values,
            "measured_at": self.measured_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        file = data["file"]
        return cls(
            kind=data["kind"],
            file=FileIdentity(str(file["sha256"]), int(file["size_bytes"]), str(file["name"])),
            model=str(data["model"]),
            quant=data.get("quant"),
            conditions=dict(data.get("conditions") or {}),
            values=dict(data.get("values") or {}),
            measured_at=str(data.get("measured_at", "")),
        )

    def same_subject(self, other: Measurement) -> bool:
        """Return True if `other` measures the same thing (it then replaces this one)."""
        return (self.kind, self.file.sha256, self.conditions) == (
            other.kind,
            other.file.sha256,
            other.conditions,
        )


class MeasurementCache:
    """The measurements of one machine."""

    def __init__(self, machine: MachineKey, directory: Path | None = None) -> None:
        self.machine = machine
        self.directory = directory or measurements_directory()
        self.path = self.directory / f"{machine.id}.json"
        self._lock = FileLock(str(self.path) + ".lock")

    def load(self) -> list[Measurement]:
        """Return every measurement of this machine (unreadable entries are skipped)."""
        data = read_json(self.path, default={})
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            return []
        found = []
        for entry in data.get("entries", []):
            try:
                found.append(Measurement.from_json(entry))
            except (KeyError, TypeError, ValueError):
                continue
        return found

    def record(self, *measurements: Measurement) -> None:
        """Add measurements, replacing older ones of the same subject, atomically."""
        with self._lock:
            entries = [m for m in self.load() if not any(m.same_subject(new) for new in measurements)]
            entries.extend(measurements)
            atomic_write_json(
                self.path,
                {
                    "format": CACHE_FORMAT,
                    "machine": self.machine.facts,
                    "entries": [m.to_json() for m in entries],
                },
            )

    def lookup(
        self, kind: Kind, *, sha256: str | None = None, model: str | None = None, quant: str | None = None
    ) -> list[Measurement]:
        """Return the measurements of `kind` matching the given file hash or model and quant, newest first."""
        matches = [
            m
            for m in self.load()
            if m.kind == kind
            and (sha256 is None or m.file.sha256 == sha256)
            and (model is None or m.model == model)
            and (quant is None or (m.quant or "").upper() == quant.upper())
        ]
        return sorted(matches, key=lambda m: m.measured_at, reverse=True)


def describe_machine(hw: HardwareInfo, key: MachineKey | None = None) -> dict[str, Any]:
    """Return the machine block of a report: a short name, a one-line summary, the fingerprint, the facts."""
    from edgeapp.hardware import probe_summary

    key = key or machine_key(hw)
    name = hw.board or hw.cpu.model
    if hw.gpus:
        name += " + " + ", ".join(gpu.name for gpu in hw.gpus)
    return {"name": name, "summary": probe_summary(hw), "fingerprint": key.id, **hw.to_json()}
