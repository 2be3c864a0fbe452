"""kill -9 anywhere, resume, and nothing differs: real SIGKILLs of ``autoencoding train``
processes at seeded random moments (mid-step, mid-checkpoint-write, mid-save), then
``--resume`` to the end, compared with one uninterrupted run of the same settings: bitwise
equal weights, checkpoint tensors and config, equal metrics lines (but their clock fields),
the same files and no stray temporaries, model.safetensors with the usual mode.

Every run is a process forked from one warm server process (:data:`SERVER`), which has
imported torch and run one training: a fresh interpreter per run would spend seconds on
imports for every kill; a forked child is killed just the same. The in-process version of
these checks, with the reasons they hold, is tests/test_resume_exact.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

#: The server: reads one JSON request a line; {"argv", "log"} forks a child running
#: ``autoencoding.cli.main(argv)`` with stdout and stderr in ``log`` and answers its pid;
#: {"wait": pid} reaps that child and answers how it ended.
SERVER = r"""
import contextlib, io, json, os, sys
from autoencoding.cli import main

def child(argv, log):
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0), os.dup2(fd, 1), os.dup2(fd, 2)
    sys.stdout, sys.stderr = os.fdopen(1, "w"), os.fdopen(2, "w")
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
        rc = 1
    sys.stdout.flush(), sys.stderr.flush()
    os._exit(rc or 0)

with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(json.loads(sys.argv[1]))  # warm-up: every import a training run needs
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    if "argv" in req:
        pid = os.fork()
        if pid == 0:
            child(req["argv"], req["log"])
        print(json.dumps({"pid": pid}), flush=True)
    else:
        _, status = os.waitpid(req["wait"], 0)
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        print(json.dumps({"signal": sig, "rc": rc}), flush=True)
"""

#: fields of a metrics line that measure the clock, not the run
CLOCK = ("seconds", "cpu_seconds")
KILLS_PER_SETTING = 4


class Server:
    def __init__(self, cwd: Path, warm: list[str]) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, json.dumps(warm)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        assert self._answer() == {"ready": True}

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, f"the server died (rc {self.proc.poll()})"
        return json.loads(line)

    def _ask(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def start(self, argv: list[str], log: Path) -> int:
        return self._ask({"argv": argv, "log": str(log)})["pid"]

    def wait(self, pid: int) -> dict:
        return self._ask({"wait": pid})

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """200 rows of 8 features on a 3-dimensional plane plus noise."""
    rng = np.random.default_rng(0)
    z, w = rng.normal(size=(200, 3)), rng.normal(size=(3, 8))
    path = tmp_path_factory.mktemp("data") / "table.npy"
    np.save(path, (z @ w + 0.3 * rng.normal(size=(200, 8))).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def server(table, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("server")
    srv = Server(cwd, _argv("ae", table, cwd / "warm", 0, 0))
    yield srv
    srv.close()


def _argv(recipe: str, data: Path, out: Path, early_stopping: int, every: int) -> list[str]:
    return [
        "train", recipe, "--data", str(data), "--out", str(out), "--epochs", "4",
        "--batch-size", "32", "--test-fraction", "0", "--early-stopping", str(early_stopping),
        "--checkpoint-every", str(every), "--seed", "1", "--quiet",
    ]  # fmt: skip


def _run(server: Server, argv: list[str], log: Path) -> float:
    """Run to the end; the seconds it took."""
    t0 = time.perf_counter()
    pid = server.start(argv, log)
    ended = server.wait(pid)
    assert ended == {"signal": None, "rc": 0}, log.read_text()
    return time.perf_counter() - t0


def _kill_at(server: Server, argv: list[str], log: Path, ckpt: Path, delay: float) -> bool:
    """Start a run, let it write its first checkpoint, SIGKILL it ``delay`` s later; True
    when the kill landed (the run had not ended by itself)."""
    pid = server.start(argv, log)
    deadline = time.perf_counter() + 60
    while not ckpt.exists() and time.perf_counter() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)  # a run that already ended is a zombie: no effect
    ended = server.wait(pid)
    assert ended["signal"] == signal.SIGKILL or ended == {"signal": None, "rc": 0}, ended
    return ended["signal"] == signal.SIGKILL


def _lines(folder: Path) -> list[dict]:
    lines = [json.loads(ln) for ln in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in CLOCK} for r in lines]


def _assert_same_run(got: Path, want: Path) -> None:
    names = sorted(p.name for p in got.iterdir())
    assert names == sorted(p.name for p in want.iterdir())
    assert not [n for n in names if ".tmp" in n], names
    for name in ("model.safetensors", "checkpoint.safetensors"):
        a, b = load_file(str(got / name)), load_file(str(want / name))
        assert a.keys() == b.keys(), name
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}: {k}"
    assert _lines(got) == _lines(want)
    assert json.loads((got / "config.json").read_text()) == json.loads(
        (want / "config.json").read_text()
    )
    mask = os.umask(0)
    os.umask(mask)
    assert (got / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize(
    "recipe,early_stopping,every",
    [
        ("ae", 0, 2),  # mid-epoch checkpoints
        ("ae", 2, 0),  # end-of-epoch checkpoints, early stopping
        ("vae", 2, 3),  # posterior samples from the RNG
        ("vqvae", 0, 1),  # codebook buffers, a checkpoint every step
        ("vqvae", 2, 4),
        ("remasker", 2, 2),  # tabular imputation: random masks every step
    ],
)
def test_sigkill_anywhere_then_resume_is_the_uninterrupted_run(
    server, table, tmp_path, recipe, early_stopping, every
):
    rng = random.Random(f"{recipe}-{early_stopping}-{every}")
    want = tmp_path / "straight"
    argv = _argv(recipe, table, want, early_stopping, every)
    seconds = _run(server, argv, tmp_path / "straight.log")
    kills = 0
    for trial in range(3 * KILLS_PER_SETTING):
        if kills >= KILLS_PER_SETTING:
            break
        out = tmp_path / f"killed-{trial}"
        argv = _argv(recipe, table, out, early_stopping, every)
        ckpt = out / "checkpoint.safetensors"
        if not _kill_at(server, argv, tmp_path / "k.log", ckpt, rng.uniform(0, 0.8 * seconds)):
            continue
        kills += 1
        if rng.random() < 0.5:  # and kill the resumed run too
            kills += _kill_at(
                server,
                [*argv, "--resume"],
                tmp_path / "k2.log",
                ckpt,
                rng.uniform(0, 0.5 * seconds),
            )
        _run(server, [*argv, "--resume"], tmp_path / "resume.log")
        _assert_same_run(out, want)
    assert kills >= KILLS_PER_SETTING, f"only {kills} kills landed; the runs end too soon"
