"""Shared test setup: one CPU thread everywhere and small data fixtures.

The models under test are tiny; with several OpenMP threads each matrix product is too small
to split and the threads spin-wait between products, so one thread (and a passive OpenMP
wait policy, which must be set before torch is imported) keeps the suite fast on small CPUs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

torch.set_num_threads(1)
# Kept referenced for the whole session: the limit lasts as long as this object lives.
_BLAS_LIMIT = threadpool_limits(limits=1)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Restore one torch thread after a test that changed it (the CLI sets threads)."""
    yield
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits_all() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 scikit-learn digits as (n, 1, 8, 8) float32 in [0, 1], with labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images.astype(np.float32) / 16.0)[:, None], d.target


@pytest.fixture(scope="session")
def digits01(digits_all) -> np.ndarray:
    """A small subset (300 images) of the digits in [0, 1], flattened to (n, 64)."""
    x, _ = digits_all
    return x[:300].reshape(300, 64).copy()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def torch_gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture
def free_port() -> str:
    """A TCP port nobody listens on now, for a torchrun rendezvous: a fixed port clashes with
    another test run on the same machine."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


@pytest.fixture
def torchrun(free_port):
    """Run a script as two torchrun CPU processes; a failure shows what the processes printed."""
    import os
    import subprocess
    import sys

    def run(*args: str) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
        done = subprocess.run(
            [*cmd, "--master-port", free_port, *map(str, args)],
            env=env,
            timeout=180,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"torchrun exited {done.returncode}:\n{done.stderr[-4000:]}"

    return run
