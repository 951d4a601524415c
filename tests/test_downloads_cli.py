"""`edgeapp pull` and `edgeapp rm` against the fake hub, with a user catalog pointing a real catalog
entry at it."""

from __future__ import annotations

import json
import os

import pytest
from huggingface_hub import constants

from edgeapp.cli.main import main
from tests.hubserver import REPO, SMALL_NAME

MODEL = "smollm2-135m-instruct"  # its catalog files follow bartowski's naming: ...-Q4_K_M.gguf


@pytest.fixture
def catalog_hub(hub_env, gguf_files):
    """The catalog's SmolLM2 entry, moved to the fake hub's repo by a user catalog."""
    config = os.environ["EDGEAPP_CONFIG_DIR"]
    os.makedirs(config, exist_ok=True)
    with open(os.path.join(config, "models.toml"), "w", encoding="utf-8") as handle:
        handle.write(
            f'version = 1\n\n[models.{MODEL}]\nrepo = "{REPO}"\n\n[models.{MODEL}.files]\nQ8_0 = "{MODEL}-q8_0.gguf"\n'
        )
    hub_env.hub.add_repo(
        REPO, {SMALL_NAME: gguf_files.small, "SmolLM2-135M-Instruct-Q8_0.gguf": gguf_files.padded}
    )
    return hub_env


def _json(capsys) -> object:
    return json.loads(capsys.readouterr().out)


def test_pull_list_and_rm_with_json(catalog_hub, gguf_files, capsys):
    size = gguf_files.small.stat().st_size

    assert main(["pull", f"{MODEL}:q4_k_m", "--json"]) == 0
    pulled = _json(capsys)
    assert main(["pull", "--list", "--json"]) == 0
    listed = _json(capsys)
    assert main(["rm", f"{MODEL}:Q4_K_M", "--json"]) == 0
    removed = _json(capsys)
    assert main(["pull", "--list", "--json"]) == 0

    assert pulled["model"] == MODEL and pulled["quant"] == "Q4_K_M" and pulled["repo"] == REPO
    assert pulled["file"] == SMALL_NAME and pulled["size_bytes"] == size == pulled["downloaded_bytes"]
    assert pulled["verified"] is True and pulled["resumed_from_bytes"] == 0 and pulled["elapsed_s"] >= 0
    assert pulled["sha256"] == catalog_hub.hub.file(REPO, SMALL_NAME).sha256
    assert [(f["repo"], f["filename"], f["path"], f["verified"]) for f in listed] == [
        (REPO, SMALL_NAME, pulled["path"], True)
    ]
    assert removed == {
        "model": MODEL,
        "quant": "Q4_K_M",
        "repo": REPO,
        "files": [SMALL_NAME],
        "freed_bytes": size,
    }
    assert _json(capsys) == []


def test_pull_prints_progress_on_stderr_and_the_path_on_stdout(catalog_hub, capsys):
    assert main(["pull", f"{MODEL}:Q4_K_M"]) == 0
    out, err = capsys.readouterr()

    assert out.strip().endswith(SMALL_NAME) and os.path.isfile(out.strip())
    assert f"{SMALL_NAME}: 100.0%" in err and "ETA" in err

    assert main(["pull", f"{MODEL}:Q4_K_M"]) == 0
    assert "already downloaded" in capsys.readouterr().err
    assert main(["pull", "--list"]) == 0
    table = capsys.readouterr().out
    assert SMALL_NAME in table and "yes" in table and "1 file(s)" in table


def test_pull_says_which_file_it_used_when_the_catalog_name_differs(catalog_hub, capsys):
    assert main(["pull", f"{MODEL}:Q8_0"]) == 0

    err = capsys.readouterr().err
    assert f"the repo has no {MODEL}-q8_0.gguf; using SmolLM2-135M-Instruct-Q8_0.gguf" in err


def test_pull_without_a_quant_downloads_the_pickers_choice(catalog_hub, capsys):
    from edgeapp.hardware import probe_hardware
    from edgeapp.pick import pick_quant

    expected = pick_quant(MODEL, probe_hardware()).quant
    assert main(["pull", MODEL, "--json"]) == 0
    captured = capsys.readouterr()
    assert f"pulling {MODEL}:{expected}, the picker's choice" in captured.err
    assert json.loads(captured.out)["quant"] == expected
    assert main(["pull", "default"]) == 2
    assert main(["pull"]) == 2


def test_pull_offline_names_the_command_to_run_later(catalog_hub, capsys, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    assert main(["pull", f"{MODEL}:Q4_K_M"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "offline mode is on" in err
    assert f"Run `edgeapp pull {MODEL}:Q4_K_M` when online." in err


def test_rm_without_a_quant_removes_every_cached_quant(catalog_hub, gguf_files, capsys):
    assert main(["pull", f"{MODEL}:Q4_K_M", "--json"]) == 0
    assert main(["pull", f"{MODEL}:Q8_0", "--json"]) == 0
    capsys.readouterr()

    assert main(["rm", MODEL]) == 0
    out = capsys.readouterr().out
    assert main(["rm", MODEL]) == 1

    assert f"removed {REPO}/{SMALL_NAME}" in out and f"removed {REPO}/SmolLM2-135M-Instruct-Q8_0.gguf" in out
    assert "freed" in out
    assert "is not in the cache" in capsys.readouterr().err
