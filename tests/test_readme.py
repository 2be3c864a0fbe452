"""Every code block of the README runs: Python blocks as written, and the `autoencoding`
commands of the shell blocks (install and pytest steps are what this test run itself is)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_quick_start():
    shell = "\n".join(_blocks("bash"))
    assert "autoencoding train" in shell
    assert "python -m pytest" in shell


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


def _commands() -> list[list[str]]:
    cmds = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("autoencoding "):
                    cmds.append(shlex.split(part))
    return cmds


def test_shell_commands_run_in_order(tmp_path):
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    for argv in _commands():
        cmd = [sys.executable, "-m", "autoencoding.cli", *argv[1:]]
        if argv[1:2] == ["train"] and "--quiet" not in argv:
            cmd.append("--quiet")
        res = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert res.returncode == 0, f"{' '.join(argv)} failed:\n{res.stderr[-2000:]}"
    assert (tmp_path / "runs" / "vae-digits" / "report.html").exists()
    assert (tmp_path / "runs" / "dae" / "z.npy").exists()
