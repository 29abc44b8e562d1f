"""The README tells the truth: its quick start is two commands, and every CLI command it shows exists."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from suara.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quick_start_is_exactly_make_demo_and_make_test():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    assert first_block.split("\n")[:-1] == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo: venv$", makefile, re.M) and re.search(r"^test: venv\b", makefile, re.M)


def test_every_cli_command_in_the_readme_exists():
    commands = re.findall(r"^suara ([a-z]+(?: [a-z]+)?)", README, re.M)
    assert len(commands) >= 7
    runner = CliRunner()
    for command in commands:
        words = command.split()
        result = runner.invoke(app, [*words, "--help"])
        if result.exit_code != 0 and len(words) == 2:  # "suara evaluate --data": second word is not a command
            result = runner.invoke(app, [words[0], "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_ci_runs_make_test():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.M)
