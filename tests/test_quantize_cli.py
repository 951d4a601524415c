"""`edgeapp quantize`: ladders from the bundled model and from its F16 expansion, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeapp import refs
from edgeapp.cli.cmd_quantize import plan_ladder
from edgeapp.cli.main import main
from edgeapp.errors import UsageError
from edgeapp.gguf_file import read_header


def test_default_ladder_from_the_quantized_bundled_model(tmp_path: Path) -> None:
    plan = plan_ladder("default", None, str(tmp_path))
    assert plan.source_quant == "Q4_1"
    assert plan.targets == ("Q2_K", "Q3_K_M")  # every ladder quant below Q4_1's precision
    assert any("already quantized" in w for w in plan.warnings)
    assert plan.output_path("Q2_K") == tmp_path / "SmolLM2-135M-Instruct.Q2_K.gguf"
    up = plan_ladder("default", "q8_0,Q8_0", str(tmp_path))
    assert up.targets == ("Q8_0",)
    assert any("cannot exceed the source" in w for w in up.warnings)


def test_ladder_from_f16_has_no_warning(tmp_path: Path) -> None:
    f16 = refs.materialize(refs.resolve("default:F16")).path
    assert f16 is not None
    plan = plan_ladder(str(f16), None, None)
    assert plan.source_quant == "F16" and plan.warnings == ()
    assert plan.targets == ("Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
    assert plan.out_dir == f16.parent  # beside a file given by path
    assert plan.output_path("Q8_0").name == "SmolLM2-135M-Instruct.Q8_0.derived-from-Q4_1.gguf"
    with pytest.raises(UsageError, match="unknown quant"):
        plan_ladder(str(f16), "Q9_X", None)
    with pytest.raises(UsageError, match="overwrite the source"):
        plan_ladder(str(f16), "F16", None)


@pytest.mark.slow
def test_quantize_command_writes_skips_and_forces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ladder"
    assert main(["quantize", "default", "--to", "Q2_K", "--out", str(out), "--threads", "1", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert "already quantized" in captured.err and "[1/1] Q2_K" in captured.err
    written = Path(data["outputs"][0]["path"])
    assert data["outputs"][0]["status"] == "written" and data["source"]["quant"] == "Q4_1"
    assert read_header(written).quant_label() == "Q2_K"
    assert written.stat().st_size == data["outputs"][0]["size_bytes"]
    assert sorted(p.name for p in out.iterdir()) == [written.name]  # no temporary files left
    assert main(["quantize", "default", "--to", "Q2_K", "--out", str(out)]) == 0
    assert "skipped" in capsys.readouterr().out
    before = written.stat().st_mtime_ns
    assert main(["quantize", "default", "--to", "Q2_K", "--out", str(out), "--force", "--threads", "1"]) == 0
    assert written.stat().st_mtime_ns != before


def test_quantize_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quantize", "default", "--to", "Q9"]) == 2
    assert "unknown quant" in capsys.readouterr().err
    assert main(["quantize", "no-such-file.gguf"]) == 1
