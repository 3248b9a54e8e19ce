"""The README's quick start names the commands the repository really uses: scripts/ and .ci/run agree with it."""

from __future__ import annotations

import os
import re

from cli_helpers import REPO


def _quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "no ```sh block after ## Quick start"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


def _script_lines(path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_quick_start_is_the_demo_and_the_test_script():
    assert _quick_start_commands() == ["./scripts/demo", "./scripts/test"]
    for command in _quick_start_commands():
        script = REPO / command
        assert script.is_file() and os.access(script, os.X_OK), command


def test_ci_runs_the_readme_test_command():
    test_command = _quick_start_commands()[1]
    assert test_command in _script_lines(REPO / ".ci" / "run")


def test_the_scripts_install_then_run_the_demo_and_pytest():
    demo, test = (_script_lines(REPO / command)[-1] for command in _quick_start_commands())
    assert "dev.sh" in demo and demo.endswith("upbit-stream demo \"$@\"")  # dev.sh installs .venv first
    assert "dev.sh" in test and "-m pytest" in test
    dev = (REPO / "scripts" / "dev.sh").read_text(encoding="utf-8")
    assert "pip install" in dev and "-m venv .venv" in dev
