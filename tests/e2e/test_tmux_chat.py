"""End to end, as a person uses it: `edgeapp` in a real terminal (tmux), chat, read the reply.

Starts the venv's `edgeapp` console script in a detached tmux session of 120x40 on a private tmux
server (its socket in the test's temporary directory), presses `c` for the chat screen, types a prompt with send-keys, and polls capture-pane
until the reply and its tokens/s figure are on the screen.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeapp.settings import Settings, save_settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

LIMIT_S = 240.0  # a hang guard: the machine may be busy
SPEED = re.compile(r"\d+\.\d tok/s · \d+ tokens · TTFT")


def _tmux(socket: str, *args: str) -> str:
    done = subprocess.run(["tmux", "-S", socket, *args], capture_output=True, text=True, check=True)
    return done.stdout


def _screen(socket: str, session: str) -> str:
    return _tmux(socket, "capture-pane", "-p", "-t", session)


def _wait_for(socket: str, session: str, found, what: str) -> str:
    deadline = time.monotonic() + LIMIT_S
    while True:
        screen = _screen(socket, session)
        if found(screen):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; the screen shows:\n{screen}")
        time.sleep(0.5)


def test_chat_in_a_real_terminal_shows_the_reply_and_its_speed(tmp_path: Path):
    save_settings(Settings(max_tokens=32, temperature=0.0))  # into the test's EDGEAPP_CONFIG_DIR
    edgeapp = Path(sys.executable).with_name("edgeapp")
    assert edgeapp.is_file(), f"no console script at {edgeapp}"
    env = {name: value for name, value in os.environ.items() if name.startswith(("EDGEAPP_", "HF_"))}
    command = " ".join(
        ["env", *(shlex.quote(f"{k}={v}") for k, v in env.items()), "TERM=xterm-256color", str(edgeapp)]
    )
    socket, session = str(tmp_path / "tmux.sock"), "edgeapp"  # a private server, gone with tmp_path
    _tmux(socket, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    try:
        _wait_for(socket, session, lambda s: "Hardware" in s and "Compare" in s, "the first frame")
        _tmux(socket, "send-keys", "-t", session, "c")
        _wait_for(
            socket, session, lambda s: "Ask something" in s and "ready" in s, "the chat screen and model"
        )
        _tmux(socket, "send-keys", "-t", session, "-l", "Name three colours.")
        _tmux(socket, "send-keys", "-t", session, "Enter")
        screen = _wait_for(socket, session, lambda s: SPEED.search(s) is not None, "the reply's speed")
        lines = screen.splitlines()
        header = next(i for i, line in enumerate(lines) if "Assistant · default:Q4_1" in line)
        reply = [line.strip(" │▎▌▏") for line in lines[header + 1 : header + 6]]
        assert any(len(line) > 3 and "tok/s" not in line for line in reply), screen
        assert "Name three colours." in screen
        assert SPEED.search(screen)
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True)
