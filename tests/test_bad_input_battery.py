"""The bad-input battery (issue 15, item 11): every command, API call and estimator answers bad
input with one clear line, before doing any work, and leaves every file as it was.

- CLI (in-process through ``main(argv)``): exit code 2, exactly one non-empty line on stderr,
  no traceback, the expected words; and no file of the workspace created, changed or removed
  (the workspace holds a trained run, existing outputs and the inputs).
- Python API: one :class:`AutoencodingError` whose message is one line.
- Estimators: scikit-learn's contract, a ``ValueError`` (``AutoencodingError`` and
  ``InvalidParameterError`` are both ValueErrors) whose message is one line.

Nothing here trains: each case must be refused before training starts (the whole module runs
in a few seconds).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding import AutoencodingError
from autoencoding.cli import main

DATA = Path(__file__).parent / "data" / "v0_1"


def _edit(folder: Path, change) -> None:
    doc = json.loads((folder / "config.json").read_text())
    change(doc)
    (folder / "config.json").write_text(json.dumps(doc))


#: edited config.json files: (folder name, edit, words of the error)
CONFIG_EDITS = [
    ("scale0", lambda d: d["scaler"].update(scale=0.0), "config.json: scaler .* positive"),
    ("scaleneg", lambda d: d["scaler"].update(scale=-2.0), "config.json: scaler .* positive"),
    ("scalenan", lambda d: d["scaler"].update(scale=float("nan")), "scale must be finite"),
    ("scalestr", lambda d: d["scaler"].update(scale="wide"), "scale must be a number"),
    ("kind", lambda d: d["scaler"].update(kind="log"), "scaler kind 'log' is unknown"),
    ("noscaler", lambda d: d["scaler"].pop("shift"), "malformed scaler entry"),
    ("recipe", lambda d: d.update(recipe="nope"), "config.json: unknown recipe 'nope'"),
    ("mrecipe", lambda d: d["model"].update(recipe="nope"), "unknown recipe 'nope'"),
    ("part", lambda d: d["model"]["bottleneck"].update(name="nope"), "unknown bottleneck"),
    ("partkey", lambda d: d["model"]["bottleneck"].update(nope=1), "unknown option.*'nope'"),
    ("modelkey", lambda d: d["model"].update(nope=1), "model: unknown option"),
    ("latenttype", lambda d: d["model"].update(latent_dim="four"), "latent_dim: expected int"),
    ("latent0", lambda d: d["model"].update(latent_dim=0), "latent_dim must be >= 1"),
    ("latenthuge", lambda d: d["model"].update(latent_dim=10**9), "GiB, more than the"),
    ("hiddenhuge", lambda d: d["model"]["encoder"].update(hidden=[10**9]), "GiB, more than"),
    ("info", lambda d: d.update(info=[1]), "info: expected a mapping"),
    ("format", lambda d: d.update(format=99), "Upgrade autoencoding"),
    ("library", lambda d: d.update(library="other"), "not an autoencoding model config"),
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """The workspace: a trained run, inputs good and bad, existing outputs, broken folders."""
    w = tmp_path_factory.mktemp("battery")
    rng = np.random.default_rng(0)
    shutil.copytree(DATA / "vae", w / "run")  # 64 features in [0, 1]
    shutil.copytree(DATA / "sae-topk", w / "sae")  # 16 features, 32 latents
    table = rng.normal(size=(60, 4))
    header = "a,b,c,d"
    np.savetxt(w / "t.csv", table, delimiter=",", header=header, comments="")
    holes = table.copy()
    holes[3, 1] = np.nan
    np.savetxt(w / "h.csv", holes, delimiter=",", header=header, comments="")
    np.savetxt(w / "nan.csv", holes, delimiter=",", header=header, comments="")
    inf = table.copy()
    inf[5, 2] = np.inf
    np.savetxt(w / "inf.csv", inf, delimiter=",", header=header, comments="")
    (w / "text.csv").write_text("a,b\n1,x\n2,y\n3,z\n")
    (w / "empty.csv").write_text(header + "\n")
    np.save(w / "x.npy", rng.random((50, 64)).astype(np.float32))
    np.save(w / "x5.npy", rng.random((50, 5)).astype(np.float32))
    nan64 = rng.random((10, 64)).astype(np.float32)
    nan64[2, 3] = np.nan
    np.save(w / "nan64.npy", nan64)
    np.save(w / "x3d.npy", rng.random((4, 3, 2)).astype(np.float32))
    (w / "garbage.npy").write_bytes(b"not an array at all")
    (w / "afile.txt").write_text("a file, not a folder\n")
    np.save(w / "existing.npy", np.arange(6.0))
    (w / "existing.csv").write_text("a\n1\n")
    (w / "dir.npy").mkdir()
    (w / "bad.toml").write_text("epochs = = 3\n")
    (w / "bad.yaml").write_text("- a list\n- not a mapping\n")
    from autoencoding.interp import store_from_array

    store_from_array(rng.normal(size=(400, 16)).astype(np.float32), w / "store")
    store_from_array(rng.normal(size=(100, 8)).astype(np.float32), w / "store8")
    # broken model folders
    shutil.copytree(DATA / "vae", w / "trunc")
    weights = (w / "trunc" / "model.safetensors").read_bytes()
    (w / "trunc" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    shutil.copytree(DATA / "vae", w / "garbagecfg")
    (w / "garbagecfg" / "config.json").write_text("{not json")
    shutil.copytree(DATA / "vae", w / "noweights")
    (w / "noweights" / "model.safetensors").unlink()
    shutil.copytree(DATA / "vae", w / "noconfig")
    (w / "noconfig" / "config.json").unlink()
    for name, change, _ in CONFIG_EDITS:
        shutil.copytree(DATA / "vae", w / f"cfg-{name}")
        _edit(w / f"cfg-{name}", change)
    # host models that only pickles can read: never opened
    (w / "binmodel").mkdir()
    (w / "binmodel" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (w / "binmodel" / "pytorch_model.bin").write_bytes(b"\x80\x04 a pickle, never read")
    (w / "weights.pt").write_bytes(b"\x80\x04 a pickle, never read")
    (w / "emptymodel").mkdir()
    return w


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        )
        for p in sorted(root.rglob("*"))
    }


OUT = "{w}/out"  # a fresh output name (its creation would show in the snapshot)
CLI_CASES = [
    # train: data
    ("train ae --data {w}/missing.csv --out " + OUT, "does not exist"),
    ("train ae --data {w}/text.csv --out " + OUT, "non-numeric|not numeric|numeric"),
    ("train ae --data {w}/nan.csv --out " + OUT, "NaN"),
    ("train ae --data {w}/inf.csv --out " + OUT, "inf"),
    ("train ae --data {w}/empty.csv --out " + OUT, "no rows|empty|at least"),
    ("train ae --data {w}/garbage.npy --out " + OUT, "garbage.npy"),
    ("train ae --data {w}/t.csv --columns zz --out " + OUT, "zz"),
    # train: recipe and settings
    ("train nope --data {w}/t.csv --out " + OUT, "unknown recipe 'nope'"),
    ("train ae --data {w}/t.csv --lr -1 --out " + OUT, "lr"),
    ("train ae --data {w}/t.csv --epochs 0 --out " + OUT, "epochs must be >= 1"),
    ("train ae --data {w}/t.csv --batch-size 0 --out " + OUT, "batch_size"),
    ("train ae --data {w}/t.csv --set train.nope=1 --out " + OUT, "unknown option"),
    ("train ae --data {w}/t.csv --set train.epochs=ten --out " + OUT, "epochs"),
    ("train ae --data {w}/t.csv --set noequals --out " + OUT, "expected KEY=VALUE"),
    ("train ae --data {w}/t.csv --set other.x=1 --out " + OUT, "start with 'model.'"),
    ("train ae --data {w}/t.csv --set model.bottleneck.name=nope --out " + OUT, "unknown bott"),
    ("train ae --data {w}/t.csv --set model.nope=3 --out " + OUT, "unknown option"),
    ("train ae --data {w}/t.csv --device tpu --out " + OUT, "unknown device 'tpu'"),
    ("train ae --data {w}/t.csv --threads many --out " + OUT, "--threads"),
    ("train ae --data {w}/t.csv --config {w}/bad.toml --out " + OUT, "cannot parse"),
    ("train ae --data {w}/t.csv --config {w}/bad.yaml --out " + OUT, "mapping"),
    ("train ae --data {w}/t.csv --config {w}/missing.toml --out " + OUT, "does not exist"),
    # train: sizes that cannot fit
    ("train ae --data {w}/t.csv --latent-dim 1000000000 --out " + OUT, "overflow|GiB"),
    (
        "train ae --data {w}/t.csv --set model.encoder.name=mlp "
        "--set model.encoder.hidden=[1e9] --out " + OUT,
        "GiB, more than the",
    ),
    # train: output folders
    ("train ae --data {w}/t.csv --out {w}/afile.txt", "is a file; give a folder"),
    ("train ae --data {w}/t.csv --out {w}/afile.txt/run", "is a file, so nothing"),
    ("train ae --data {w}/t.csv --out {w}/run", "already holds a run"),
    ("train ae --data {w}/t.csv --out {w}/store", "not empty and holds no run"),
    # encode / reconstruct / sample / evaluate
    ("encode {w}/run --data {w}/x5.npy --out {w}/existing.npy", "expects 64 features"),
    ("encode {w}/run --data {w}/x3d.npy --out {w}/existing.npy", "64 features"),
    ("reconstruct {w}/run --data {w}/nan64.npy --out {w}/existing.npy", "NaN"),
    ("encode {w}/run --data {w}/x.npy --out {w}/z.txt", "unknown file type '.txt'"),
    ("encode {w}/run --data {w}/x.npy --out {w}/dir.npy", "is a folder"),
    ("encode {w}/run --data {w}/x.npy --out {w}/afile.txt/z.npy", "is a file, so nothing"),
    ("encode {w}/missing --data {w}/x.npy --out {w}/z.npy", "not a model folder"),
    ("encode {w}/trunc --data {w}/x.npy --out {w}/z.npy", "corrupt or truncated"),
    ("encode {w}/garbagecfg --data {w}/x.npy --out {w}/z.npy", "corrupt JSON"),
    ("encode {w}/noweights --data {w}/x.npy --out {w}/z.npy", "missing model.safetensors"),
    ("encode {w}/noconfig --data {w}/x.npy --out {w}/z.npy", "missing config.json"),
    ("encode {w}/run --data {w}/missing.npy --out {w}/z.npy", "does not exist|missing"),
    *[
        ("encode {w}/cfg-" + name + " --data {w}/x.npy --out {w}/existing.npy", words)
        for name, _, words in CONFIG_EDITS
    ],
    ("sample {w}/run -n 1000000000 --out {w}/existing.npy", "GiB, more than the"),
    ("sample {w}/run -n 0 --out {w}/existing.npy", "-n must be >= 1"),
    ("sample {w}/run -n 5 --out {w}/afile.txt/s.npy", "is a file, so nothing"),
    ("sample {w}/run -n 5 --sampler nope --out {w}/existing.npy", "nope"),
    ("evaluate {w}/run --data {w}/x.npy --out {w}/afile.txt", "is a file; give a folder"),
    ("evaluate {w}/run --data {w}/x.npy --out {w}/afile.txt/e", "is a file, so nothing"),
    ("evaluate {w}/run --out {w}/e", "--out is for evaluations on --data"),
    ("evaluate {w}/run --data {w}/x5.npy", "64 features"),
    # detect / impute
    ("impute --data {w}/h.csv --out {w}/afile.txt/x.csv", "is a file, so nothing"),
    ("impute --data {w}/h.csv --out {w}/filled.txt", "expected a .csv path"),
    ("impute --data {w}/text.csv --out {w}/existing.csv", "non-numeric"),
    ("detect --data {w}/h.csv --out {w}/existing.csv", "empty or NaN cells"),
    ("detect --data {w}/inf.csv --out {w}/existing.csv", "infinite"),
    ("detect --data {w}/missing.csv --out {w}/existing.csv", "does not exist"),
    ("detect --data {w}/t.csv --columns zz --out {w}/existing.csv", "not found"),
    ("detect --data {w}/t.csv --contamination 0.9 --out {w}/existing.csv", "contamination"),
    ("detect --data {w}/t.csv --recipe nope --out {w}/existing.csv", "nope"),
    ("detect --data {w}/x3d.npy --out {w}/existing.csv", "2-D"),
    # sae
    ("sae cache --model {w}/binmodel --hooks blocks.0.mlp_out --out " + OUT, "only safetensors"),
    ("sae cache --model {w}/weights.pt --hooks blocks.0.mlp_out --out " + OUT, "safetensors"),
    ("sae cache --model {w}/emptymodel --hooks blocks.0.mlp_out --out " + OUT, "no \\*.safe"),
    ("sae cache --model {w}/missing --hooks blocks.0.mlp_out --out " + OUT, "local model folder"),
    ("sae cache --model {w}/binmodel --hooks b --out {w}/afile.txt", "is a file; give a folder"),
    ("sae train {w}/store --latents 1000000000 --out " + OUT, "GiB, more than the"),
    ("sae train {w}/store --recipe vae --out " + OUT, "needs an sae-\\* recipe"),
    ("sae train {w}/store --eval-fraction 1.5 --out " + OUT, "--eval-fraction"),
    ("sae train {w}/missing --out " + OUT, "missing"),
    ("sae train {w}/x.npy --out {w}/afile.txt", "is a file; give a folder"),
    ("sae train {w}/x.npy --out {w}/afile.txt/r", "is a file, so nothing"),
    ("sae evaluate {w}/run {w}/store --no-splice", "not a sparse autoencoder"),
    ("sae evaluate {w}/sae {w}/store8 --no-splice", "expects 16"),
    ("sae evaluate {w}/sae {w}/store --out {w}/afile.txt --no-splice", "is a file"),
    ("sae features {w}/sae {w}/store --out {w}/afile.txt", "is a file; give a folder"),
    ("sae steer {w}/sae --features 12=x --text hi", "12=x|feature"),
]


@pytest.mark.parametrize("argv, words", CLI_CASES, ids=[c[0][:60] for c in CLI_CASES])
def test_cli_answers_one_line_and_changes_nothing(ws, capsys, argv, words):
    before = _snapshot(ws)
    code = main(argv.format(w=ws).split())
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    import re

    assert re.search(words, lines[0]), lines[0]
    assert _snapshot(ws) == before, "a failed command created, changed or removed a file"


X = np.random.default_rng(1).normal(size=(40, 4))


def _nan():
    x = X.copy()
    x[1, 1] = np.nan
    return x


def _inf():
    x = X.copy()
    x[2, 0] = -np.inf
    return x


API_CASES = [
    ("fit-recipe", lambda w, m: ae.fit("nope", X), "unknown recipe 'nope'"),
    ("fit-nan", lambda w, m: ae.fit("ae", _nan()), "NaN"),
    ("fit-inf", lambda w, m: ae.fit("ae", _inf()), "inf"),
    ("fit-empty", lambda w, m: ae.fit("ae", np.zeros((0, 4))), "empty|no |at least"),
    ("fit-strings", lambda w, m: ae.fit("ae", np.array([["a", "b"], ["c", "d"]])), "numeric"),
    ("fit-1d", lambda w, m: ae.fit("ae", np.arange(5.0)), "2|shape|dimension"),
    ("fit-lr", lambda w, m: ae.fit("ae", X, train={"lr": -1.0}), "lr"),
    ("fit-epochs", lambda w, m: ae.fit("ae", X, train={"epochs": 0}), "epochs"),
    ("fit-key", lambda w, m: ae.fit("ae", X, train={"nope": 1}), "unknown option"),
    ("fit-type", lambda w, m: ae.fit("ae", X, train={"epochs": "ten"}), "epochs"),
    ("fit-huge", lambda w, m: ae.fit("ae", X, model={"latent_dim": 10**9}), "overflow|GiB"),
    ("fit-part", lambda w, m: ae.fit("ae", X, model={"bottleneck": {"name": "nope"}}), "unknown b"),
    ("fit-device", lambda w, m: ae.fit("ae", X, train={"device": "tpu"}), "unknown device"),
    ("fit-scaling", lambda w, m: ae.fit("ae", X, scaling="log"), "unknown scaling 'log'"),
    ("load-trunc", lambda w, m: ae.load(w / "trunc"), "corrupt or truncated"),
    ("load-missing", lambda w, m: ae.load(w / "missing"), "not a model folder"),
    ("load-scale", lambda w, m: ae.load(w / "cfg-scale0"), "cfg-scale0/config.json: scaler"),
    ("load-recipe", lambda w, m: ae.load(w / "cfg-mrecipe"), "cfg-mrecipe/config.json: unkn"),
    ("load-huge", lambda w, m: ae.load(w / "cfg-latenthuge"), "GiB"),
    ("encode-shape", lambda w, m: m.encode(np.ones((3, 5))), "expects 64 features"),
    ("encode-nan", lambda w, m: m.encode(np.full((3, 64), np.nan)), "NaN"),
    ("reconstruct-str", lambda w, m: m.reconstruct([["a"] * 64]), "numeric"),
    ("sample-huge", lambda w, m: m.sample(10**9), "GiB, more than the"),
    ("sample-float", lambda w, m: m.sample(2.5), "whole number"),
    ("save-file", lambda w, m: m.save(w / "afile.txt"), "is a file"),
    ("train-sae-shape", lambda w, m: _train_sae(torch.randn(5, 4, 3)), "must be \\(n, d\\)"),
    ("train-sae-recipe", lambda w, m: _train_sae(torch.randn(50, 4), "vae"), "sae-\\*"),
    ("train-sae-huge", lambda w, m: _train_sae(torch.randn(50, 4), latents=10**9), "GiB"),
    ("load-model-bin", lambda w, m: _load_model(w / "binmodel"), "only safetensors"),
]


def _train_sae(*a, **kw):
    from autoencoding.interp import train_sae

    return train_sae(*a, **kw)


def _load_model(path):
    pytest.importorskip("transformers")
    from autoencoding.interp.models import load_model

    return load_model(str(path))


@pytest.mark.parametrize("call, words", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_raises_one_line_autoencoding_error(ws, call, words):
    import re

    model = ae.load(ws / "run")
    before = _snapshot(ws)
    with pytest.raises(AutoencodingError) as info:
        call(ws, model)
    message = str(info.value)
    assert "\n" not in message and re.search(words, message), message
    assert _snapshot(ws) == before


def _estimators():
    from autoencoding.estimators import (
        AutoencoderEmbedder,
        AutoencoderOutlierDetector,
        MaskedAutoencoderImputer,
    )

    return AutoencoderEmbedder, AutoencoderOutlierDetector, MaskedAutoencoderImputer


ESTIMATOR_CASES = [
    ("embed-nan", lambda E, O, I: E(epochs=1).fit(_nan()), "NaN"),
    ("embed-inf", lambda E, O, I: E(epochs=1).fit(_inf()), "inf"),
    ("embed-empty", lambda E, O, I: E(epochs=1).fit(np.zeros((0, 4))), "0 sample|minimum"),
    ("embed-str", lambda E, O, I: E(epochs=1).fit(np.array([["a", "b"]] * 3)), "numeric|conv"),
    ("embed-latent", lambda E, O, I: E(latent_dim=0).fit(X), "latent_dim"),
    ("embed-epochs", lambda E, O, I: E(epochs=0).fit(X), "epochs"),
    ("embed-recipe", lambda E, O, I: E("nope", epochs=1).fit(X), "nope"),
    ("embed-huge", lambda E, O, I: E(hidden=[10**9], epochs=1).fit(X), "GiB, more than"),
    ("outlier-cont", lambda E, O, I: O(contamination=2.0).fit(X), "contamination"),
    ("outlier-nan", lambda E, O, I: O(epochs=1).fit(_nan()), "NaN"),
    ("impute-rate", lambda E, O, I: I(mask_rate=1.0).fit(_nan()), "mask_rate"),
    ("impute-inf", lambda E, O, I: I(epochs=1).fit(_inf()), "inf"),
]


@pytest.mark.parametrize(
    "call, words", [c[1:] for c in ESTIMATOR_CASES], ids=[c[0] for c in ESTIMATOR_CASES]
)
def test_estimators_raise_one_line_value_errors(call, words):
    import re

    with pytest.raises(ValueError) as info:
        call(*_estimators())
    message = str(info.value)
    assert "\n" not in message.strip() and re.search(words, message), message


def test_the_battery_is_large_enough():
    assert len(CLI_CASES) + len(API_CASES) + len(ESTIMATOR_CASES) >= 60


def test_an_unwritable_output_folder_is_refused_before_any_work(ws, capsys, monkeypatch):
    """Root writes anywhere, so the permission answer is stubbed: the check asks os.access
    of the nearest existing folder (here ``ws`` under a missing ``sub``)."""
    import autoencoding.guards as guards

    asked = []

    def access(path, mode):
        asked.append(Path(path))
        return False

    monkeypatch.setattr(guards.os, "access", access)
    before = _snapshot(ws)
    code = main(["impute", "--data", str(ws / "h.csv"), "--out", str(ws / "sub" / "x.csv")])
    err = capsys.readouterr().err
    assert code == 2 and f"the folder {ws} is not writable" in err, err
    assert asked == [ws] and _snapshot(ws) == before
