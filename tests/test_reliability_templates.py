"""Hostile chat templates: a GGUF whose `tokenizer.chat_template` tries to reach Python internals
(the CVE-2024-34359 pattern and its cycler/joiner/namespace/lipsum cousins) renders without running
anything.

Each payload tries to `touch` a marker file. A control renders the same template with plain,
unsandboxed Jinja2 in a child process and must create the marker, so every payload is shown to be
live; then the real model file carrying it is loaded in the real engine and chatted with, and the
marker must never appear. The engine either refuses the template with one clear line or renders
it inertly, and stays up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeapp.engine.client import EngineClient
from edgeapp.engine.protocol import ChatMessage, Finished, Generate, LoadModel, SamplingSettings
from edgeapp.errors import EngineCrashed, EngineError
from tests.gguf_damage import STRING, assemble, gstr, kv_raw, read_layout

pytestmark = pytest.mark.slow
GREEDY = SamplingSettings(temperature=0.0, repeat_penalty=1.0)
TOUCH = "touch {marker}"
PAYLOADS = {
    "self-init-globals-builtins": (
        "{{ self.__init__.__globals__.__builtins__.__import__('os').system('" + TOUCH + "') }}"
    ),
    "cve-2024-34359-subclasses": (
        "{% for x in ().__class__.__base__.__subclasses__() %}"
        "{% if 'warning' in x.__name__ %}"
        "{{ x()._module.__builtins__['__import__']('os').popen('" + TOUCH + "').read() }}"
        "{% endif %}{% endfor %}"
    ),
    "cycler-globals": "{{ cycler.__init__.__globals__.os.popen('" + TOUCH + "').read() }}",
    "joiner-globals": "{{ joiner.__init__.__globals__.os.popen('" + TOUCH + "').read() }}",
    "namespace-globals": "{{ namespace.__init__.__globals__.os.popen('" + TOUCH + "').read() }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].popen('" + TOUCH + "').read() }}",
    "attr-filter": (
        "{{ (cycler|attr('__init__')|attr('__globals__'))['os'].popen('" + TOUCH + "').read() }}"
    ),
    "raise-exception-globals": (
        "{{ raise_exception.__globals__['__builtins__']['__import__']('os').system('" + TOUCH + "') }}"
    ),
    "inside-a-real-template": (
        "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
        "<|im_end|>\n{% endfor %}"
        "{{ joiner.__init__.__globals__.os.popen('" + TOUCH + "').read() }}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
}

# Renders a template the way a careless runner would: plain Jinja2, no sandbox.
CONTROL = textwrap.dedent(
    """
    import sys, jinja2
    def raise_exception(message):
        raise ValueError(message)
    template = jinja2.Environment(loader=jinja2.BaseLoader()).from_string(sys.stdin.read())
    template.render(messages=[{"role": "user", "content": "hi"}], bos_token="", eos_token="",
                    add_generation_prompt=True, raise_exception=raise_exception)
    """
)


def write_model_with_template(source: Path, dest: Path, template: str) -> Path:
    """Write a copy of `source` whose tokenizer.chat_template is `template`; return `dest`."""
    layout = read_layout(source)
    records = [
        kv_raw(key, STRING, gstr(template)) if key == "tokenizer.chat_template" else layout.kv_raw(key)
        for key in layout.kvs
    ]
    head = assemble(layout, kvs=records)  # tensor offsets are relative to the data: unchanged
    with open(source, "rb") as src, open(dest, "wb") as out:
        out.write(head)
        src.seek(layout.data_offset)
        while block := src.read(16 * 1024 * 1024):
            out.write(block)
    return dest


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineClient]:
    with EngineClient() as client:
        yield client


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_the_payload_is_live_without_a_sandbox(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    template = PAYLOADS[name].replace("{marker}", str(marker))
    subprocess.run(
        [sys.executable, "-c", CONTROL], input=template, text=True, capture_output=True, timeout=60
    )
    assert marker.exists(), f"{name}: the control did not execute; the payload proves nothing"


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_a_hostile_template_runs_nothing_in_the_engine(
    name: str, tmp_path: Path, bundled_path: Path, engine: EngineClient
) -> None:
    marker = tmp_path / "pwned"
    model = write_model_with_template(
        bundled_path, tmp_path / "hostile.gguf", PAYLOADS[name].replace("{marker}", str(marker))
    )
    from edgeapp.gguf_file import read_header

    assert str(marker) in (read_header(model).chat_template or "")  # the file really carries it
    engine.load(LoadModel(path=str(model), n_ctx=256))
    request = Generate(messages=(ChatMessage("user", "Hello"),), max_tokens=4, sampling=GREEDY)
    try:
        events = list(engine.generate(request))
        outcome = "rendered"
        assert isinstance(events[-1], Finished)
    except EngineCrashed:
        raise
    except EngineError as error:
        outcome = str(error)
        assert "\n" not in outcome and "chat template cannot be used" in outcome, outcome
    assert not marker.exists(), f"{name}: the template executed code ({outcome})"
    # The engine is still up and serves the next request.
    assert engine.alive
    events = list(engine.generate(Generate(prompt="Hello", max_tokens=2, sampling=GREEDY)))
    assert isinstance(events[-1], Finished) and events[-1].stats.gen_tokens > 0


def test_the_cli_refuses_the_cve_template_in_one_line(tmp_path: Path, bundled_path: Path) -> None:
    marker = tmp_path / "pwned"
    template = PAYLOADS["cve-2024-34359-subclasses"].replace("{marker}", str(marker))
    model = write_model_with_template(bundled_path, tmp_path / "cve.gguf", template)
    result = subprocess.run(
        [sys.executable, "-m", "edgeapp", "chat", str(model), "--prompt", "Hi", "--max-tokens", "4"],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert not marker.exists()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    # Refused (exit 1, one line) or rendered inertly (exit 0, an answer).
    if result.returncode == 1:
        assert len(lines) == 1 and lines[0].startswith("edgeapp: ") and "chat template" in lines[0], lines
    else:
        assert result.returncode == 0 and "tok/s" in result.stderr, result.stderr


def test_a_template_that_never_finishes_is_stopped_and_the_engine_survives(
    tmp_path: Path, bundled_path: Path, engine: EngineClient
) -> None:
    # The sandbox caps each range() at 100,000 items; nesting three of them is 10^15 iterations.
    spin = "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}{% endfor %}{% endfor %}{% endfor %}"
    model = write_model_with_template(bundled_path, tmp_path / "spin.gguf", spin)
    engine.load(LoadModel(path=str(model), n_ctx=256))
    with pytest.raises(EngineError, match="did not finish rendering"):
        list(engine.generate(Generate(messages=(ChatMessage("user", "Hi"),), max_tokens=2)))
    events = list(engine.generate(Generate(prompt="Hello", max_tokens=2, sampling=GREEDY)))
    assert isinstance(events[-1], Finished)
