"""The model catalog: `models.toml` shipped with edgeapp, extended or overridden by the user's catalog.

Both files share one format (documented at the top of models.toml) and one validator, because the
user's file is as untrusted as any input: a file name in it becomes a path on disk and in a hub URL,
so traversal, absolute paths and control characters are refused before anything else sees them.
Every error names the file, the entry and the field.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from edgeapp import locations
from edgeapp.errors import CatalogError, ModelNotFound
from edgeapp.quants import QUANTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CATALOG_VERSION = 1
RESERVED_IDS = frozenset({"default"})  # `default` names the bundled model in a REF

_TOP_KEYS = ("version", "models")
_ARCH_INT_KEYS = ("n_layers", "n_embd", "n_head", "n_head_kv", "head_dim", "n_vocab", "ctx_train")
_ARCH_KEYS = ("architecture", *_ARCH_INT_KEYS)
# entry key -> kind of value; the order is the order of the "allowed keys" hint
_ENTRY_KINDS = {
    "name": "text",
    "description": "text",
    "repo": "repo",
    "params": "int",
    "license": "text",
    "gated": "bool",
    "note": "text",
    "files_confirmed": "bool",
    "arch": "arch",
    "files": "files",
}
_REQUIRED = ("name", "description", "repo", "params", "license", "arch", "files")

_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_REPO_PART_RE = re.compile(r"[A-Za-z0-9_.-]{1,96}")
_ARCH_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ArchFacts:
    """Architecture facts for estimates before a download (config.json values)."""

    architecture: str  # GGUF general.architecture
    n_layers: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_vocab: int
    ctx_train: int

    def to_json(self) -> dict[str, Any]:
        """Return the facts as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class CatalogModel:
    """One catalog entry: where its GGUF files live and what the model is."""

    id: str
    name: str
    repo: str
    params: int
    files: Mapping[str, str] = field(hash=False)  # quant -> file name in the repo, ladder order
    arch: ArchFacts
    license: str
    gated: bool
    note: str | None
    description: str
    source: str  # the file that defined it last (the user catalog when it overrides a built-in entry)
    files_confirmed: bool = False  # False: names follow the publisher's convention, check the listing

    def __post_init__(self) -> None:
        # Read-only and in ladder order whatever the caller passed, so iteration order means something.
        ordered = {q: self.files[q] for q in QUANTS if q in self.files}
        object.__setattr__(self, "files", MappingProxyType(ordered))

    @property
    def quants(self) -> tuple[str, ...]:
        """Return the quants this model has files for, smallest first."""
        return tuple(self.files)

    def file_for(self, quant: str) -> str:
        """Return the repo file name for `quant` (any case); ModelNotFound names what is available."""
        name = quant.strip().upper()
        if name in self.files:
            return self.files[name]
        available = ", ".join(self.quants)
        if name not in QUANTS:
            raise ModelNotFound(
                f"{quant!r} is not a quant the catalog knows ({', '.join(QUANTS)}); "
                f"{self.id} has files for {available}"
            )
        raise ModelNotFound(f"{self.id} has no {name} file in the catalog; it has {available}")

    def to_json(self) -> dict[str, Any]:
        """Return the entry as a JSON-ready dict (field names are stable; `quants` is added)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(files=dict(self.files), arch=self.arch.to_json(), quants=list(self.quants))
        return data


@dataclass(frozen=True)
class Catalog:
    """The models edgeapp knows by id: the built-in ones in file order, then the user's additions."""

    models: tuple[CatalogModel, ...]
    builtin_path: str | None = None
    user_path: str | None = None  # None when no user catalog was read
    _by_id: dict[str, CatalogModel] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {m.id: m for m in self.models})

    def __iter__(self) -> Iterator[CatalogModel]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def __contains__(self, model_id: object) -> bool:
        return isinstance(model_id, str) and model_id.strip().lower() in self._by_id

    def get(self, model_id: str) -> CatalogModel:
        """Return the model with this id (any case); ModelNotFound suggests the closest id."""
        model = self._by_id.get(model_id.strip().lower())
        if model is not None:
            return model
        close = _closest(model_id.strip().lower(), list(self._by_id))
        hint = f"; did you mean {close!r}?" if close else "."
        raise ModelNotFound(
            f"no model {model_id!r} in the catalog{hint} "
            "Run `edgeapp models` to list them, or give the path of a local .gguf file."
        )

    def search(self, text: str) -> list[CatalogModel]:
        """Return the models whose id, name, repo or description contain every word of `text`."""
        words = text.lower().split()
        return [
            m
            for m in self.models
            if all(w in f"{m.id}\n{m.name}\n{m.repo}\n{m.description}".lower() for w in words)
        ]

    def to_json(self) -> dict[str, Any]:
        """Return the catalog as a JSON-ready dict."""
        return {
            "builtin_path": self.builtin_path,
            "user_path": self.user_path,
            "models": [m.to_json() for m in self.models],
        }


def builtin_catalog_file() -> Path:
    """Return the path of the shipped catalog: inside the installed package, else at the repo root."""
    package_dir = Path(__file__).resolve().parent
    shipped = package_dir / "models.toml"
    return shipped if shipped.is_file() else package_dir.parent / "models.toml"


def load_catalog(builtin_path: Path | None = None, user_path: Path | None = None) -> Catalog:
    """Return the built-in catalog merged with the user's (default: locations.user_catalog_file()).

    Raises CatalogError naming the file, entry and field of the first problem found. A missing user
    catalog is normal; a missing built-in catalog is a broken install.
    """
    builtin = Path(builtin_path) if builtin_path is not None else builtin_catalog_file()
    user = Path(user_path) if user_path is not None else locations.user_catalog_file()
    raw_builtin, models = _builtin_models(builtin)
    user_entries = _read_user(user)
    if user_entries is None:
        return Catalog(models=models, builtin_path=str(builtin))
    by_id = {m.id: m for m in models}
    for model_id, entry in user_entries.items():
        base = raw_builtin.get(model_id)
        by_id[model_id] = _build(model_id, _merge(base, entry) if base else entry, user)
    return Catalog(models=tuple(by_id.values()), builtin_path=str(builtin), user_path=str(user))


# The TUI reloads the catalog often; the shipped file only changes on upgrade (or while editing a
# checkout, hence the mtime and size in the key).
_builtin_cache: dict[tuple[str, int, int], tuple[dict[str, dict[str, Any]], tuple[CatalogModel, ...]]] = {}


def _builtin_models(path: Path) -> tuple[dict[str, dict[str, Any]], tuple[CatalogModel, ...]]:
    try:
        stat = path.stat()
    except OSError as error:
        raise CatalogError(
            path, None, None, f"is missing or unreadable ({error.strerror}); reinstall edgeapp"
        ) from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    cached = _builtin_cache.get(key)
    if cached is None:
        entries = _check_document(path, _read_toml(path))
        cached = (entries, tuple(_build(mid, entry, path) for mid, entry in entries.items()))
        _builtin_cache.clear()
        _builtin_cache[key] = cached
    return cached


def _read_user(path: Path) -> dict[str, dict[str, Any]] | None:
    # Not cached: the user may have just edited it, and a small file parses in well under a millisecond.
    if not path.is_file():
        return None
    return _check_document(path, _read_toml(path))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(path, None, None, f"is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise CatalogError(path, None, None, "is not UTF-8 text; save it as UTF-8") from None
    except OSError as error:
        raise CatalogError(path, None, None, f"cannot be read ({error.strerror})") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return `base` with `override` applied field by field; arch and files merge key by key."""
    merged = {**base, **override}
    for table in ("arch", "files"):
        if table in base and table in override:
            merged[table] = {**base[table], **override[table]}
    return merged


def _build(model_id: str, entry: dict[str, Any], source: Path) -> CatalogModel:
    for key in _REQUIRED:
        if key not in entry:
            raise CatalogError(source, model_id, key, f"is missing; every model needs {', '.join(_REQUIRED)}")
    arch = entry["arch"]
    for key in _ARCH_KEYS:
        if key not in arch:
            raise CatalogError(
                source, model_id, f"arch.{key}", f"is missing; [arch] needs {', '.join(_ARCH_KEYS)}"
            )
    if not entry["files"]:
        raise CatalogError(
            source, model_id, "files", 'lists no quant files; add at least one, e.g. Q4_K_M = "<name>.gguf"'
        )
    return CatalogModel(
        id=model_id,
        name=entry["name"],
        repo=entry["repo"],
        params=entry["params"],
        files=entry["files"],
        arch=ArchFacts(**{key: arch[key] for key in _ARCH_KEYS}),
        license=entry["license"],
        gated=entry.get("gated", False),
        note=entry.get("note"),
        description=entry["description"],
        source=str(source),
        files_confirmed=entry.get("files_confirmed", False),
    )


def _check_document(path: Path, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the file's entries by id, each checked field by field (completeness comes later)."""
    at = _At(path, None)
    for key in data:
        if key not in _TOP_KEYS:
            raise at.error(key, f"unknown top-level key; allowed keys: {', '.join(_TOP_KEYS)}")
    version = data.get("version", CATALOG_VERSION)
    if type(version) is not int or version != CATALOG_VERSION:
        raise at.error(
            "version", f"{version!r} is not a catalog version this edgeapp reads ({CATALOG_VERSION})"
        )
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise at.error("models", f"must be a table of [models.<id>] entries, not {_kind(models)}")
    return {model_id: _check_entry(_At(path, model_id), raw) for model_id, raw in models.items()}


@dataclass(frozen=True)
class _At:
    """Where a value came from, so that every error names the file and the entry."""

    path: Path
    model_id: str | None

    def error(self, key: str | None, problem: str) -> CatalogError:
        return CatalogError(self.path, self.model_id, key, problem)


def _check_entry(at: _At, raw: Any) -> dict[str, Any]:
    model_id = str(at.model_id)
    if model_id in RESERVED_IDS:
        raise at.error("id", f"{model_id!r} is reserved for the bundled model; pick another id")
    if not _ID_RE.fullmatch(model_id):
        raise at.error(
            "id",
            f"{model_id!r} must be lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    if not isinstance(raw, dict):
        raise at.error(None, f"must be a table of fields, not {_kind(raw)}")
    checked: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _ENTRY_KINDS:
            raise at.error(key, f"unknown key; allowed keys: {', '.join(_ENTRY_KINDS)}")
        checked[key] = _CHECKERS[_ENTRY_KINDS[key]](at, key, value)
    return checked


def _check_text(at: _At, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise at.error(key, f"must be a string, not {_kind(value)}")
    if not value.strip():
        raise at.error(key, "is empty")
    if _CONTROL_RE.search(value):
        raise at.error(key, f"{value!r} contains a control character")
    return value


def _check_int(at: _At, key: str, value: Any) -> int:
    # bool is an int in Python, and `params = true` is a mistake, not 1.
    if type(value) is not int:
        raise at.error(key, f"must be an integer, not {_kind(value)}")
    if value <= 0:
        raise at.error(key, f"must be a positive integer, not {value}")
    return value


def _check_bool(at: _At, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise at.error(key, f"must be true or false, not {_kind(value)}")
    return value


def _check_repo(at: _At, key: str, value: Any) -> str:
    text = _check_text(at, key, value)
    parts = text.split("/")
    if len(parts) != 2 or not all(_is_repo_part(part) for part in parts):
        raise at.error(
            key,
            f"{text!r} is not a Hugging Face repo id: give owner/name, each of letters, "
            "digits, '-', '_' or '.' (at most 96), not starting or ending with '-' or '.', "
            "no '--' or '..'",
        )
    return text


def _is_repo_part(part: str) -> bool:
    edges_ok = part[:1] not in ("-", ".") and part[-1:] not in ("-", ".")
    return bool(_REPO_PART_RE.fullmatch(part)) and edges_ok and "--" not in part and ".." not in part


def _check_arch(at: _At, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise at.error(key, f"must be a table ([models.{at.model_id}.arch]), not {_kind(value)}")
    for name, item in value.items():
        where = f"arch.{name}"
        if name == "architecture":
            if not _ARCH_NAME_RE.fullmatch(_check_text(at, where, item)):
                raise at.error(where, f"{item!r} must be a GGUF architecture name such as 'llama'")
        elif name in _ARCH_INT_KEYS:
            _check_int(at, where, item)
        else:
            raise at.error(where, f"unknown key; allowed keys: {', '.join(_ARCH_KEYS)}")
    return dict(value)


def _check_files(at: _At, key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise at.error(key, f"must be a table of quant = file name, not {_kind(value)}")
    for quant, name in value.items():
        where = f"files.{quant}"
        if quant not in QUANTS:
            close = _closest(quant.upper(), list(QUANTS))
            hint = f"; did you mean {close}?" if close else ""
            raise at.error(where, f"unknown quant; valid quants: {', '.join(QUANTS)}{hint}")
        if not isinstance(name, str):
            raise at.error(where, f"must be a string, not {_kind(name)}")
        problem = _file_name_problem(name)
        if problem:
            raise at.error(where, f"{name!r} {problem}")
    return dict(value)


def _file_name_problem(name: str) -> str | None:
    """Return why `name` is not a safe relative .gguf file name inside a repo, or None."""
    if not name:
        return "is empty; give the .gguf file name as the repo lists it"
    if _CONTROL_RE.search(name):
        return "contains a control character"
    if "\\" in name:
        return "contains a backslash; separate folders with '/'"
    parts = name.split("/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts:
        return "must be a relative file name inside the repo (no '..', no leading '/')"
    if any(part in ("", ".") for part in parts):
        return "has an empty or '.' path component"
    if not name.endswith(".gguf"):
        return "must end in .gguf"
    return None


_CHECKERS: dict[str, Callable[[_At, str, Any], Any]] = {
    "text": _check_text,
    "int": _check_int,
    "bool": _check_bool,
    "repo": _check_repo,
    "arch": _check_arch,
    "files": _check_files,
}


def _kind(value: Any) -> str:
    """Return a TOML-flavoured name for the type of `value`, for error messages."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    for kind, name in ((int, "an integer"), (float, "a float"), (str, "a string")):
        if isinstance(value, kind):
            return f"{name} ({value!r})"
    if isinstance(value, dict):
        return "a table"
    return "an array" if isinstance(value, list) else f"a {type(value).__name__}"


def _closest(query: str, ids: list[str]) -> str | None:
    """Return the id most like `query`: one containing it, else the nearest by difflib, else None."""
    containing = [model_id for model_id in ids if query and query in model_id]
    if containing:
        return containing[0]
    import difflib  # only on this error path: it costs ~10 ms to import

    close = difflib.get_close_matches(query, ids, n=1, cutoff=0.5)
    return close[0] if close else None
