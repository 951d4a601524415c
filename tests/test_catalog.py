"""The shipped catalog, the user catalog on top of it, and every rule the validator enforces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeapp.catalog import ArchFacts, Catalog, CatalogModel, builtin_catalog_file, load_catalog
from edgeapp.errors import CatalogError, ModelNotFound
from edgeapp.quants import QUANTS

FIXTURES = Path(__file__).parent / "fixtures" / "catalogs"
GOOD = FIXTURES / "good" / "minimal.toml"
USER = FIXTURES / "good" / "user.toml"

SEED_IDS = ("llama-2-7b", "phi-2", "mistral-7b-instruct-v0.2")
SMALL_IDS = (
    "smollm2-135m-instruct",
    "smollm2-360m-instruct",
    "smollm2-1.7b-instruct",
    "qwen2.5-0.5b-instruct",
    "qwen2.5-1.5b-instruct",
    "qwen2.5-3b-instruct",
    "llama-3.2-1b-instruct",
    "llama-3.2-3b-instruct",
)

# The architecture table of shared/reference/facts.md: layers, n_embd, heads, kv heads, head dim,
# vocab, native context; plus GGUF general.architecture and the licence.
REFERENCE = {
    "smollm2-135m-instruct": ("llama", 30, 576, 9, 3, 64, 49152, 8192, "apache-2.0"),
    "smollm2-360m-instruct": ("llama", 32, 960, 15, 5, 64, 49152, 8192, "apache-2.0"),
    "smollm2-1.7b-instruct": ("llama", 24, 2048, 32, 32, 64, 49152, 8192, "apache-2.0"),
    "qwen2.5-0.5b-instruct": ("qwen2", 24, 896, 14, 2, 64, 151936, 32768, "apache-2.0"),
    "qwen2.5-1.5b-instruct": ("qwen2", 28, 1536, 12, 2, 128, 151936, 32768, "apache-2.0"),
    "qwen2.5-3b-instruct": ("qwen2", 36, 2048, 16, 2, 128, 151936, 32768, "qwen-research"),
    "llama-3.2-1b-instruct": ("llama", 16, 2048, 32, 8, 64, 128256, 131072, "llama3.2"),
    "llama-3.2-3b-instruct": ("llama", 28, 3072, 24, 8, 128, 128256, 131072, "llama3.2"),
    "phi-2": ("phi2", 32, 2560, 32, 32, 80, 51200, 2048, "mit"),
    "llama-2-7b": ("llama", 32, 4096, 32, 32, 128, 32000, 4096, "llama2"),
    "mistral-7b-instruct-v0.2": ("llama", 32, 4096, 32, 8, 128, 32000, 32768, "apache-2.0"),
}


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEAPP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("EDGEAPP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EDGEAPP_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def shipped() -> Catalog:
    return load_catalog()


def test_shipped_catalog_has_the_seed_and_small_models(shipped: Catalog) -> None:
    assert builtin_catalog_file().is_file()
    assert len(shipped) >= 10
    assert shipped.user_path is None
    for model_id in SEED_IDS + SMALL_IDS:
        assert model_id in shipped
    assert [m.id for m in shipped][:3] == list(SMALL_IDS[:3])  # file order


@pytest.mark.parametrize("model_id", sorted(REFERENCE))
def test_shipped_arch_facts_match_the_reference_table(shipped: Catalog, model_id: str) -> None:
    architecture, layers, embd, heads, kv_heads, head_dim, vocab, ctx, licence = REFERENCE[model_id]
    model = shipped.get(model_id)
    assert model.arch == ArchFacts(architecture, layers, embd, heads, kv_heads, head_dim, vocab, ctx)
    assert model.license == licence
    assert not model.gated  # none of these GGUF repos is gated itself
    assert model.description and model.name and model.params > 0
    assert model.source == str(builtin_catalog_file())


def test_shipped_exact_values(shipped: Catalog) -> None:
    smol = shipped.get("smollm2-135m-instruct")
    assert smol.params == 134_515_008
    assert smol.arch.n_head_kv * smol.arch.head_dim == 192
    assert shipped.get("llama-2-7b").params == 6_738_415_616
    assert shipped.get("mistral-7b-instruct-v0.2").arch.n_head_kv == 8
    assert shipped.get("phi-2").arch.head_dim == 80
    assert "gated" in (shipped.get("llama-3.2-1b-instruct").note or "")


def test_shipped_file_names_follow_each_publishers_convention(shipped: Catalog) -> None:
    for model in shipped:
        assert not model.files_confirmed
        assert model.quants[:6] == QUANTS[:6]  # Q2_K .. Q8_0 everywhere
        owner = model.repo.split("/")[0]
        for quant, name in model.files.items():
            if owner == "bartowski":
                stem = model.repo.split("/")[1].removesuffix("-GGUF")
                assert name == f"{stem}-{'f16' if quant == 'F16' else quant}.gguf"
            elif owner == "Qwen":
                assert name == f"{model.id}-{'fp16' if quant == 'F16' else quant.lower()}.gguf"
            else:
                assert owner == "TheBloke" and quant != "F16"  # TheBloke publishes no F16
                assert name == f"{model.id}.{quant}.gguf"
    assert shipped.get("smollm2-135m-instruct").file_for("Q4_K_M") == "SmolLM2-135M-Instruct-Q4_K_M.gguf"
    assert shipped.get("smollm2-135m-instruct").file_for("f16") == "SmolLM2-135M-Instruct-f16.gguf"
    assert shipped.get("qwen2.5-0.5b-instruct").file_for("F16") == "qwen2.5-0.5b-instruct-fp16.gguf"
    assert shipped.get("llama-2-7b").file_for("q2_k") == "llama-2-7b.Q2_K.gguf"


def test_file_for_names_the_quants_available(shipped: Catalog) -> None:
    with pytest.raises(
        ModelNotFound, match=r"phi-2 has no F16 file.*Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K, Q8_0"
    ):
        shipped.get("phi-2").file_for("F16")
    with pytest.raises(ModelNotFound, match=r"'Q4_1' is not a quant"):
        shipped.get("phi-2").file_for("Q4_1")


def test_get_suggests_a_close_id_and_the_models_command(shipped: Catalog) -> None:
    assert shipped.get("  Phi-2 ").id == "phi-2"
    with pytest.raises(ModelNotFound) as raised:
        shipped.get("llama2-7b")
    assert "did you mean 'llama-2-7b'?" in str(raised.value)
    assert "edgeapp models" in str(raised.value)
    with pytest.raises(ModelNotFound, match="did you mean 'qwen2.5-0.5b-instruct'"):
        shipped.get("qwen2.5-0.5b")
    with pytest.raises(ModelNotFound, match=r"no model 'zzzz' in the catalog\. Run `edgeapp models`"):
        shipped.get("zzzz")


def test_search_is_case_insensitive_over_id_name_repo_description(shipped: Catalog) -> None:
    assert [m.id for m in shipped.search("QWEN 1.5B")] == ["qwen2.5-1.5b-instruct"]
    assert {m.id for m in shipped.search("thebloke")} == set(SEED_IDS)
    assert shipped.search("benchmark reference") == [shipped.get("llama-2-7b")]
    assert shipped.search("") == list(shipped)
    assert shipped.search("no such words") == []


def test_contains_iter_and_json(shipped: Catalog) -> None:
    assert "PHI-2" in shipped and "nope" not in shipped and 3 not in shipped
    data = json.loads(json.dumps(shipped.to_json()))
    entry = next(m for m in data["models"] if m["id"] == "qwen2.5-3b-instruct")
    assert entry["quants"] == list(QUANTS[:6])
    assert entry["files"]["Q8_0"] == "qwen2.5-3b-instruct-q8_0.gguf"
    assert entry["arch"]["n_layers"] == 36
    assert set(entry) >= {"repo", "params", "license", "gated", "note", "description", "source"}


def test_model_files_are_read_only_and_in_ladder_order() -> None:
    arch = ArchFacts("llama", 1, 2, 1, 1, 2, 10, 64)
    model = CatalogModel(
        "m", "M", "o/m", 5, {"Q8_0": "b.gguf", "Q2_K": "a.gguf"}, arch, "mit", False, None, "d", "x"
    )
    assert list(model.files) == ["Q2_K", "Q8_0"]
    with pytest.raises(TypeError):
        model.files["F16"] = "c.gguf"  # type: ignore[index]


def test_user_catalog_overrides_field_by_field_and_adds_models() -> None:
    base = load_catalog(user_path=Path("/nonexistent/models.toml"))
    catalog = load_catalog(user_path=USER)
    assert catalog.user_path == str(USER)
    assert [m.id for m in catalog] == [m.id for m in base] + ["my-model"]
    llama, before = catalog.get("llama-2-7b"), base.get("llama-2-7b")
    assert llama.repo == "my-org/Llama-2-7B-GGUF"
    assert llama.files_confirmed
    assert llama.quants == QUANTS  # the user's F16 joins the six built-in files
    assert llama.file_for("Q2_K") == before.file_for("Q2_K")
    assert (llama.arch, llama.params, llama.license, llama.note) == (
        before.arch,
        before.params,
        before.license,
        before.note,
    )
    assert llama.source == str(USER)
    mine = catalog.get("my-model")
    assert mine.file_for("Q4_K_M") == "subdir/My-Model-Q4_K_M.gguf"
    assert (mine.gated, mine.note, mine.files_confirmed) == (False, None, False)
    assert catalog.get("phi-2") == base.get("phi-2")


def test_user_catalog_defaults_to_the_config_directory(tmp_path: Path) -> None:
    assert load_catalog(builtin_path=GOOD).user_path is None
    user_file = tmp_path / "config" / "models.toml"
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text('[models.tiny-model]\nrepo = "someone/Tiny-GGUF"\n', encoding="utf-8")
    catalog = load_catalog(builtin_path=GOOD)
    assert catalog.user_path == str(user_file)
    assert catalog.get("tiny-model").repo == "someone/Tiny-GGUF"
    assert catalog.get("tiny-model").quants == ("Q4_K_M", "Q8_0")


def test_user_override_is_validated_with_the_user_file_named(tmp_path: Path) -> None:
    user_file = tmp_path / "models.toml"
    user_file.write_text('[models.llama-2-7b.files]\nQ4_K_M = "../../etc/passwd"\n', encoding="utf-8")
    with pytest.raises(CatalogError) as raised:
        load_catalog(user_path=user_file)
    assert str(raised.value) == (
        f"{user_file}: [models.llama-2-7b] files.Q4_K_M: '../../etc/passwd' must be a relative "
        "file name inside the repo (no '..', no leading '/')"
    )


def test_new_user_model_must_be_complete(tmp_path: Path) -> None:
    user_file = tmp_path / "models.toml"
    user_file.write_text('[models.half-done]\nname = "Half"\nrepo = "me/half"\n', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"models\.toml: \[models\.half-done\] description: is missing"):
        load_catalog(builtin_path=GOOD, user_path=user_file)


# fixture in bad/ -> (entry, field, words the problem must contain); entry None: a file-level problem
BAD = {
    "syntax_error": (None, None, "is not valid TOML: "),
    "unknown_top_key": (None, "modles", "unknown top-level key; allowed keys: version, models"),
    "bad_version": (None, "version", "2 is not a catalog version"),
    "entry_not_table": ("other-model", None, "must be a table of fields, not a string"),
    "unknown_entry_key": ("tiny-model", "size_bytes", "unknown key; allowed keys: name, description, repo"),
    "unknown_arch_key": ("tiny-model", "arch.n_layer", "unknown key; allowed keys: architecture, n_layers"),
    "missing_field": ("tiny-model", "repo", "is missing; every model needs"),
    "missing_arch_field": ("tiny-model", "arch.head_dim", "is missing"),
    "bool_for_int": ("tiny-model", "params", "must be an integer, not a boolean (true)"),
    "str_for_int": ("tiny-model", "arch.n_layers", "must be an integer, not a string ('30')"),
    "float_for_int": ("tiny-model", "params", "must be an integer, not a float"),
    "int_for_bool": ("tiny-model", "gated", "must be true or false, not an integer (0)"),
    "int_for_str": ("tiny-model", "license", "must be a string, not an integer (2)"),
    "zero_int": ("tiny-model", "arch.n_head_kv", "must be a positive integer, not 0"),
    "negative_int": ("tiny-model", "arch.ctx_train", "must be a positive integer, not -8192"),
    "control_char_text": ("tiny-model", "description", "contains a control character"),
    "bad_architecture": ("tiny-model", "arch.architecture", "'Llama 2' must be a GGUF architecture name"),
    "bad_id": ("Tiny_Model", "id", "'Tiny_Model' must be lower-case letters"),
    "reserved_id": ("default", "id", "'default' is reserved for the bundled model"),
    "bad_repo": ("tiny-model", "repo", "'example/Tiny--Model-GGUF' is not a Hugging Face repo id"),
    "traversal_file": ("tiny-model", "files.Q4_K_M", "'../../etc/passwd' must be a relative file name"),
    "absolute_file": ("tiny-model", "files.Q4_K_M", "(no '..', no leading '/')"),
    "backslash_file": ("tiny-model", "files.Q4_K_M", "contains a backslash"),
    "nul_file": (
        "tiny-model",
        "files.Q4_K_M",
        "'Tiny-Model-Q4_K_M.gguf\\x00.txt' contains a control character",
    ),
    "not_gguf_file": ("tiny-model", "files.Q4_K_M", "must end in .gguf"),
    "int_for_file": ("tiny-model", "files.Q4_K_M", "must be a string, not an integer (4)"),
    "unknown_quant": ("tiny-model", "files.Q4_1", "unknown quant; valid quants: Q2_K, Q3_K_M, Q4_K_M"),
    "no_files": ("tiny-model", "files", "lists no quant files"),
}


def _where(path: Path, entry: str | None, field: str | None) -> str:
    if entry is None:
        return f"{path}: {field}: " if field else f"{path}: "
    return f"{path}: [models.{entry}] {field}: " if field else f"{path}: [models.{entry}]: "


def test_every_bad_fixture_has_an_expectation() -> None:
    assert {p.stem for p in (FIXTURES / "bad").glob("*.toml")} == set(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_builtin_catalog_is_rejected_naming_file_entry_and_field(name: str) -> None:
    path = FIXTURES / "bad" / f"{name}.toml"
    entry, field, problem = BAD[name]
    with pytest.raises(CatalogError) as raised:
        load_catalog(builtin_path=path, user_path=Path("/nonexistent/models.toml"))
    message = str(raised.value)
    assert message.startswith(_where(path, entry, field)), message
    assert problem in message
    assert (raised.value.file, raised.value.entry, raised.value.field) == (str(path), entry, field)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_user_catalog_is_rejected_naming_the_user_file(name: str) -> None:
    path = FIXTURES / "bad" / f"{name}.toml"
    entry, field, problem = BAD[name]
    with pytest.raises(CatalogError) as raised:
        load_catalog(user_path=path)
    assert str(raised.value).startswith(_where(path, entry, field))
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    "repo",
    [
        "no-slash",
        "a/b/c",
        "/name",
        "owner/",
        "-owner/name",
        "owner/name-",
        "owner/.name",
        "owner/name.",
        "own..er/name",
        "owner/na me",
        "owner/naïve",
        "x" * 97 + "/name",
        "owner/" + "y" * 97,
        "",
    ],
)
def test_malformed_repo_ids_are_rejected(tmp_path: Path, repo: str) -> None:
    path = tmp_path / "models.toml"
    text = GOOD.read_text(encoding="utf-8").replace('"example/Tiny-Model-GGUF"', json.dumps(repo))
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as raised:
        load_catalog(builtin_path=path)
    assert str(raised.value).startswith(f"{path}: [models.tiny-model] repo: ")


@pytest.mark.parametrize("repo", ["bartowski/SmolLM2-135M-Instruct-GGUF", "a_b/c.d-e", "x" * 96 + "/_y"])
def test_well_formed_repo_ids_are_accepted(tmp_path: Path, repo: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        GOOD.read_text(encoding="utf-8").replace("example/Tiny-Model-GGUF", repo), encoding="utf-8"
    )
    assert load_catalog(builtin_path=path).get("tiny-model").repo == repo


@pytest.mark.parametrize(
    "name",
    [
        "sub/../x.gguf",
        "..",
        "C:/models/x.gguf",
        "c:x.gguf",
        "a//b.gguf",
        "./x.gguf",
        "x.gguf/",
        "x\t.gguf",
        "x\u007f.gguf",
        "",
        "x.GGUF.txt",
    ],
)
def test_unsafe_file_names_are_rejected(tmp_path: Path, name: str) -> None:
    path = tmp_path / "models.toml"
    text = GOOD.read_text(encoding="utf-8").replace('"Tiny-Model-Q8_0.gguf"', json.dumps(name))
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as raised:
        load_catalog(builtin_path=path)
    assert str(raised.value).startswith(f"{path}: [models.tiny-model] files.Q8_0: ")


def test_toml_syntax_error_gives_the_line() -> None:
    path = FIXTURES / "bad" / "syntax_error.toml"
    with pytest.raises(
        CatalogError, match=r"syntax_error\.toml: is not valid TOML: .*\(at line 8, column 10\)"
    ):
        load_catalog(builtin_path=path)


def test_unreadable_and_undecodable_files(tmp_path: Path) -> None:
    missing = tmp_path / "gone.toml"
    with pytest.raises(CatalogError, match=r"gone\.toml: is missing or unreadable .*reinstall edgeapp"):
        load_catalog(builtin_path=missing)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[models.x]\nname = "caf\xe9"\n')
    with pytest.raises(CatalogError, match=r"latin1\.toml: is not UTF-8 text"):
        load_catalog(user_path=latin1)


def test_edited_builtin_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_catalog(builtin_path=path).get("tiny-model").params == 134_515_008
    path.write_text(GOOD.read_text(encoding="utf-8").replace("134_515_008", "1_000"), encoding="utf-8")
    assert load_catalog(builtin_path=path).get("tiny-model").params == 1_000
