"""The command line, run in-process: every command, config files, and one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from autoencoding import load
from autoencoding.cli import build_parser, main
from autoencoding.data import load_data

TRAIN_FILES = [
    "config.json",
    "model.safetensors",
    "metrics.json",
    "metrics.jsonl",
    "loss_curve.png",
    "reconstructions.png",
    "report.html",
]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """`autoencoding train --epochs 2 --quiet` on digits: the default recipe (vae)."""
    out = tmp_path_factory.mktemp("cli") / "vae"
    assert main(["train", "--data", "digits", "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    """A deterministic (non-generative) model on a small table."""
    out = tmp_path_factory.mktemp("cli") / "ae"
    assert (
        main(["train", "ae", "--data", "iris", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    )
    return out


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- train and the run folder ---------------------------------------------------------------
def test_train_writes_the_run_folder(vae_run):
    for name in TRAIN_FILES:
        assert (vae_run / name).is_file() and (vae_run / name).stat().st_size > 0, name
    doc = json.loads((vae_run / "config.json").read_text())
    assert doc["recipe"] == "vae"
    assert doc["model"]["reconstruction"]["name"] == "bernoulli"  # digits scale to [0, 1]
    assert doc["scaler"]["kind"] == "range"
    assert doc["info"]["split"]["data"] == "digits"
    assert doc["info"]["split"]["split_seed"] == 0
    assert doc["info"]["train"]["epochs"] == 2
    log = [json.loads(line) for line in (vae_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    metrics = json.loads((vae_run / "metrics.json").read_text())
    assert metrics["n"] == 359  # 20 % of 1797 held out for test
    for key in ("mse", "bce", "neg_elbo", "nll", "active_units", "probe_accuracy"):
        assert key in metrics, key
    report = (vae_run / "report.html").read_text()
    assert "data:image/png;base64" in report and "nll" in report


def test_train_prints_test_metrics(tmp_path, capsys):
    code, out, err = run(
        ["train", "ae", "--data", "iris", "--epochs", "1", "--quiet", "--out", tmp_path / "r"],
        capsys,
    )
    assert code == 0
    assert "test metrics (30 samples):" in out and "mse" in out
    assert f"run folder: {tmp_path / 'r'}" in out
    assert not (tmp_path / "r" / "reconstructions.png").exists()  # not image data
    assert (tmp_path / "r" / "report.html").exists()


def test_train_on_a_csv_with_columns_and_label(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = ["a,b,c,kind"] + [
        f"{rng.normal():.4f},{rng.normal():.4f},{rng.normal():.4f},{i % 2}" for i in range(60)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    argv = ["train", "ae", "--data", tmp_path / "t.csv", "--columns", "a,c", "--label", "kind",
            "--epochs", "1", "--quiet", "--out", tmp_path / "r"]  # fmt: skip
    assert run(argv, capsys)[0] == 0
    assert load(tmp_path / "r").module.input_shape == (2,)
    assert "probe_accuracy" in json.loads((tmp_path / "r" / "metrics.json").read_text())
    # encode re-applies the recorded column choice
    code, _, _ = run(
        ["encode", tmp_path / "r", "--data", tmp_path / "t.csv", "--out", tmp_path / "z.npy"],
        capsys,
    )
    assert code == 0 and np.load(tmp_path / "z.npy").shape == (60, 8)


def test_train_with_no_arguments_trains_the_default_recipe_on_digits(tmp_path, monkeypatch, capsys):
    from autoencoding import recipes

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(recipes.get_recipe("vae").train, "epochs", 1)  # keep it short
    code, out, _ = run([], capsys)
    assert code == 0
    assert "recipe vae: reconstruction 'bernoulli'" in out and "test metrics" in out
    assert (tmp_path / "runs" / "vae-digits" / "report.html").exists()


# -- using a trained model ------------------------------------------------------------------
def test_evaluate_on_the_recorded_test_split(vae_run, capsys):
    before = json.loads((vae_run / "metrics.json").read_text())
    code, out, _ = run(["evaluate", vae_run], capsys)
    assert code == 0
    metrics = json.loads(out)
    assert metrics["n"] == 359
    assert metrics["mse"] == pytest.approx(before["mse"], rel=1e-5)  # the same split


# -- the test split: its own fixed seed, stored in the run folder ----------------------------
def _split(run_dir):
    return json.loads((run_dir / "split.json").read_text())


def _train_iris(out, *flags):
    argv = ["train", "ae", "--data", "iris", "--epochs", "1", "--quiet", "--out", out, *flags]
    assert main([str(a) for a in argv]) == 0


def test_the_test_split_does_not_move_with_the_training_seed(ae_run, tmp_path):
    _train_iris(tmp_path / "seed1", "--seed", 1)
    a, b = _split(ae_run), _split(tmp_path / "seed1")
    assert len(a["test_indices"]) == 30 and a["n_rows"] == 150
    assert a["test_indices"] == b["test_indices"]
    assert a["split_seed"] == b["split_seed"] == 0
    info = json.loads((tmp_path / "seed1" / "config.json").read_text())["info"]
    assert info["train"]["seed"] == 1 and info["split"]["split_seed"] == 0


def test_split_seed_moves_the_test_split_from_the_flag_or_the_config_file(ae_run, tmp_path):
    _train_iris(tmp_path / "flag", "--split-seed", 1)
    (tmp_path / "c.toml").write_text("split-seed = 1\n")
    _train_iris(tmp_path / "file", "--config", tmp_path / "c.toml")
    moved = _split(tmp_path / "flag")
    assert moved["split_seed"] == 1 and len(moved["test_indices"]) == 30
    assert moved["test_indices"] != _split(ae_run)["test_indices"]
    assert _split(tmp_path / "file")["test_indices"] == moved["test_indices"]


def test_evaluate_uses_the_stored_test_rows(ae_run, tmp_path, capsys):
    run_dir = tmp_path / "r"
    shutil.copytree(ae_run, run_dir)
    doc = _split(run_dir)
    doc["test_indices"] = doc["test_indices"][:7]
    (run_dir / "split.json").write_text(json.dumps(doc))
    code, out, err = run(["evaluate", run_dir], capsys)
    assert code == 0, err
    assert json.loads(out)["n"] == 7
    doc["n_rows"] = 151  # the data changed since training: say so, naming the file
    (run_dir / "split.json").write_text(json.dumps(doc))
    code, _, err = run(["evaluate", run_dir], capsys)
    assert code == 2 and "split.json" in err and "151 rows" in err and "150 rows" in err


def test_a_run_folder_from_before_split_json_still_evaluates(ae_run, tmp_path, capsys):
    """Old run folders record only the split's seed (the training seed) and re-draw it."""
    from autoencoding.data import split_indices

    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(ae_run, old)
    shutil.copytree(ae_run, new)
    (old / "split.json").unlink()
    doc = json.loads((old / "config.json").read_text())
    doc["info"]["split"] = {"data": "iris", "test_fraction": 0.2, "seed": 1,
                            "columns": None, "label": None}  # fmt: skip
    (old / "config.json").write_text(json.dumps(doc))
    # the same rows, stored the new way
    _, te = split_indices(150, 0.2, 1, load_data("iris").y)
    stored = _split(new) | {"split_seed": 1, "test_indices": te.tolist()}
    (new / "split.json").write_text(json.dumps(stored))
    code, out, err = run(["evaluate", old], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["n"] == 30
    assert run(["evaluate", new], capsys)[0] == 0
    assert json.loads((new / "metrics.json").read_text())["mse"] == pytest.approx(
        metrics["mse"], rel=1e-6
    )


def test_evaluate_on_other_data(vae_run, tmp_path, capsys):
    x = load_data("digits").x[:50]
    np.save(tmp_path / "x.npy", x)
    report = (vae_run / "report.html").read_bytes()
    metrics = (vae_run / "metrics.json").read_bytes()
    code, out, _ = run(["evaluate", vae_run, "--data", tmp_path / "x.npy"], capsys)
    assert code == 0 and json.loads(out)["n"] == 50
    assert json.loads((vae_run / "eval-x" / "metrics.json").read_text())["n"] == 50
    # the training report and its metrics are untouched
    assert (vae_run / "report.html").read_bytes() == report
    assert (vae_run / "metrics.json").read_bytes() == metrics
    code, _, _ = run(["evaluate", vae_run, "--data", tmp_path / "x.npy", "--out",
                      tmp_path / "elsewhere"], capsys)  # fmt: skip
    assert code == 0 and (tmp_path / "elsewhere" / "report.html").exists()


def test_encode_and_reconstruct(vae_run, tmp_path, capsys):
    code, out, _ = run(["encode", vae_run, "--data", "digits", "--out", tmp_path / "z.npy"], capsys)
    assert code == 0 and "wrote (1797, 8)" in out
    z = np.load(tmp_path / "z.npy")
    x = load_data("digits").x
    np.testing.assert_allclose(z, load(vae_run).encode(x), rtol=1e-5, atol=1e-6)
    code, _, _ = run(
        ["reconstruct", vae_run, "--data", "digits", "--out", tmp_path / "r" / "rec.csv"], capsys
    )
    assert code == 0
    rec = np.loadtxt(tmp_path / "r" / "rec.csv", delimiter=",")
    assert rec.shape == (1797, 64)
    assert rec.min() >= 0 and rec.max() <= 16 + 1e-3  # back in the data's own units


def test_sample(vae_run, tmp_path, capsys):
    code, out, _ = run(["sample", vae_run, "-n", 5, "--out", tmp_path / "s.npy"], capsys)
    assert code == 0 and "wrote (5, 1, 8, 8)" in out
    s = np.load(tmp_path / "s.npy")
    run(["sample", vae_run, "-n", 5, "--out", tmp_path / "s2.npy"], capsys)
    np.testing.assert_array_equal(s, np.load(tmp_path / "s2.npy"))  # seeded
    run(["sample", vae_run, "-n", 5, "--seed", 1, "--out", tmp_path / "s3.npy"], capsys)
    assert not np.array_equal(s, np.load(tmp_path / "s3.npy"))


def test_recipes_and_datasets_listings(capsys):
    code, out, _ = run(["recipes"], capsys)
    assert code == 0
    for name in ("ae", "dae", "cae", "lorae", "vae", "beta-vae"):
        assert f"\n{name} " in f"\n{out}"
    assert "paper: Kingma & Welling" in out
    code, out, _ = run(["datasets"], capsys)
    assert code == 0
    for name in ("digits", "breast_cancer", "wine", "diabetes", "iris", "synthetic:blobs"):
        assert name in out
    assert ".npy, .csv or .parquet" in out


def _commands():
    parser = build_parser()
    return list(parser._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("argv", [["--help"], *[[c, "--help"] for c in _commands()]])
def test_help_of_every_command(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    assert "usage: autoencoding" in capsys.readouterr().out


def test_train_help_shows_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for flag in ("--data", "--out", "--config", "--epochs", "--lr", "--set", "--resume",
                 "--split-seed"):  # fmt: skip
        assert flag in out


# -- config files and --set -----------------------------------------------------------------
CONFIG_TOML = """
recipe = "vae"
data = "iris"
epochs = 1
quiet = true
latent-dim = 3

[model.bottleneck]
beta = 2.5

[train]
batch_size = 32
"""

CONFIG_YAML = """
recipe: vae
data: iris
epochs: 1
quiet: true
latent_dim: 3
model:
  bottleneck:
    beta: 2.5
train:
  batch_size: 32
"""


@pytest.mark.parametrize(
    "name, text", [("c.toml", CONFIG_TOML), ("c.yaml", CONFIG_YAML)], ids=["toml", "yaml"]
)
def test_config_file_gives_options(tmp_path, capsys, name, text):
    (tmp_path / name).write_text(text)
    code, _, err = run(["train", "--config", tmp_path / name, "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "r" / "config.json").read_text())
    assert doc["recipe"] == "vae" and doc["info"]["dataset"] == "iris"
    assert doc["model"]["latent_dim"] == 3
    assert doc["model"]["bottleneck"]["beta"] == 2.5
    assert doc["info"]["train"]["batch_size"] == 32 and doc["info"]["train"]["epochs"] == 1


def test_command_line_flags_beat_the_config_file(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG_TOML.split("[model.bottleneck]")[0])
    argv = ["train", "ae", "--config", tmp_path / "c.toml", "--latent-dim", "2",
            "--out", tmp_path / "r"]  # fmt: skip
    assert run(argv, capsys)[0] == 0
    doc = json.loads((tmp_path / "r" / "config.json").read_text())
    assert doc["recipe"] == "ae" and doc["model"]["latent_dim"] == 2


def test_set_overrides_model_and_train_options(tmp_path, capsys):
    argv = ["train", "vae", "--data", "iris", "--epochs", "1", "--quiet", "--out", tmp_path / "r",
            "--set", "model.bottleneck.beta=2", "--set", "train.grad_clip=0.5"]  # fmt: skip
    code, _, err = run(argv, capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "r" / "config.json").read_text())
    assert doc["model"]["bottleneck"]["beta"] == 2.0
    assert doc["model"]["bottleneck"]["name"] == "gaussian"  # merged, not replaced
    assert doc["info"]["train"]["grad_clip"] == 0.5


# -- bad input: exit code 2, one line on stderr, no traceback -------------------------------
def _write_bad_files(tmp):
    (tmp / "nan.csv").write_text("a,b\n1,2\nnan,3\n4,5\n")
    (tmp / "text.csv").write_text("a,city\n1,Oslo\n2,Lima\n3,Rome\n")
    np.save(tmp / "ten.npy", np.ones((5, 10), dtype=np.float32))
    (tmp / "unknown.toml").write_text('epochs = 1\ncolour = "red"\n')
    (tmp / "broken.toml").write_text("epochs = = 1\n")


BAD = {
    "unknown recipe": (["train", "vea", "--data", "iris"], "unknown recipe 'vea'; known recipes:"),
    "unknown dataset": (["train", "ae", "--data", "mnist"], "unknown data source 'mnist'"),
    "NaN in a CSV": (["train", "ae", "--data", "{tmp}/nan.csv"], "non-finite values (NaN"),
    "non-numeric CSV column": (
        ["train", "ae", "--data", "{tmp}/text.csv"],
        "non-numeric column(s) ['city']",
    ),
    "missing data file": (["train", "ae", "--data", "{tmp}/none.csv"], "does not exist"),
    "negative lr": (["train", "ae", "--data", "iris", "--lr=-0.1"], "lr must be > 0, got -0.1"),
    "latent dim 0": (
        ["train", "ae", "--data", "iris", "--latent-dim", "0"],
        "latent_dim must be >= 1, got 0",
    ),
    "zero epochs": (["train", "ae", "--data", "iris", "--epochs", "0"], "epochs must be >= 1"),
    "unknown config-file key": (
        ["train", "--config", "{tmp}/unknown.toml"],
        "--config: unknown option(s) ['colour']",
    ),
    "unparsable config file": (["train", "--config", "{tmp}/broken.toml"], "cannot parse"),
    "missing config file": (["train", "--config", "{tmp}/none.toml"], "does not exist"),
    "unknown --set key": (
        ["train", "ae", "--data", "iris", "--set", "model.colour=red"],
        "unknown option(s) 'colour'",
    ),
    "--set outside model/train": (
        ["train", "ae", "--data", "iris", "--set", "colour=red"],
        "keys start with 'model.' or 'train.'",
    ),
    "--set without a value": (["train", "ae", "--data", "iris", "--set", "model"], "KEY=VALUE"),
    "--set an option the part lacks": (
        ["train", "ae", "--data", "iris", "--set", "model.bottleneck.beta=2"],
        "bottleneck 'identity': unknown option(s) 'beta'",
    ),
    "wrong feature count at encode": (
        ["encode", "{vae}", "--data", "{tmp}/ten.npy", "--out", "{tmp}/z.npy"],
        "the model expects 64 features per sample (shape [1, 8, 8]), got [10]",
    ),
    "missing run folder": (
        ["encode", "{tmp}/nowhere", "--data", "digits", "--out", "{tmp}/z.npy"],
        "not a model folder",
    ),
    "evaluate a missing run folder": (["evaluate", "{tmp}/nowhere"], "not a model folder"),
    "corrupt weights": (
        ["encode", "{corrupt}", "--data", "digits", "--out", "{tmp}/z.npy"],
        "corrupt or truncated weights file",
    ),
    "corrupt checkpoint": (
        ["train", "--data", "digits", "--out", "{corrupt}", "--resume", "--epochs", "3"],
        "is corrupt or truncated",
    ),
    "sample from a sampler the model lacks": (
        ["sample", "{ae}", "-n", "4", "--sampler", "flow", "--out", "{tmp}/s.npy"],
        "no sampler 'flow'",
    ),
    "sample zero": (["sample", "{vae}", "-n", "0", "--out", "{tmp}/s.npy"], "-n must be >= 1"),
    "bad threads": (["train", "ae", "--data", "iris", "--threads", "many"], "--threads"),
    "bad scaling": (["train", "ae", "--data", "iris", "--scaling", "log"], "unknown scaling"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_gives_one_line_and_exit_code_2(case, tmp_path, vae_run, ae_run, capsys):
    _write_bad_files(tmp_path)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(vae_run, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage")
    (corrupt / "checkpoint.safetensors").write_bytes(b"\x00garbage")
    argv, expected = BAD[case]
    paths = {"tmp": tmp_path, "vae": vae_run, "ae": ae_run, "corrupt": corrupt}
    argv = [a.format(**paths) for a in argv]
    if argv[0] == "train" and "--out" not in argv:
        argv += ["--out", str(tmp_path / "run")]
    code, _, err = run([*argv, "--quiet"] if argv[0] == "train" else argv, capsys)
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"autoencoding {argv[0]}: error: ")
    assert expected in lines[0]


def test_scientific_notation_is_a_number_in_set_and_yaml(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("lr: 1e-3\n")
    argv = ["train", "ae", "--data", "iris", "--epochs", "1", "--quiet", "--out", tmp_path / "r",
            "--config", tmp_path / "c.yaml", "--set", "train.weight_decay=2E-4"]  # fmt: skip
    code, _, err = run(argv, capsys)
    assert code == 0, err
    train = json.loads((tmp_path / "r" / "config.json").read_text())["info"]["train"]
    assert train["lr"] == 1e-3 and train["weight_decay"] == 2e-4


def test_array_outputs_are_written_exactly_where_asked(vae_run, tmp_path, capsys):
    import pandas as pd

    code, out, _ = run(["encode", vae_run, "--data", "digits", "--out", tmp_path / "z.parquet"],
                       capsys)  # fmt: skip
    assert code == 0 and f"to {tmp_path / 'z.parquet'}" in out
    assert pd.read_parquet(tmp_path / "z.parquet").shape == (1797, 8)
    assert not (tmp_path / "z.parquet.npy").exists()
    # an unknown suffix is refused before any work, naming what is accepted
    code, _, err = run(["encode", vae_run, "--data", "digits", "--out", tmp_path / "z.txt"], capsys)
    assert code == 2 and "unknown file type '.txt'" in err and ".parquet" in err
    assert not list(tmp_path.glob("z.txt*"))


def test_help_and_argument_errors_do_not_start_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from autoencoding.cli import main\n"
        "for argv in (['--help'], ['train', '--help'], ['sae', '--help'],\n"
        "             ['train', '--epochs', 'x']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr[-500:]


def test_a_run_folder_is_never_overwritten_silently(tmp_path, capsys):
    out = tmp_path / "A"
    base = ["--data", "iris", "--epochs", "1", "--quiet", "--out", out]
    assert run(["train", "vae", *base], capsys)[0] == 0
    (out / "stale.png").write_bytes(b"old figure")
    before = (out / "model.safetensors").read_bytes()
    code, _, err = run(["train", "ae", *base], capsys)  # another run into the same folder
    assert code == 2 and "already holds a run" in err and "--overwrite" in err
    assert (out / "model.safetensors").read_bytes() == before  # nothing was touched
    code, _, err = run(["train", "ae", *base, "--overwrite"], capsys)
    assert code == 0, err
    assert not (out / "stale.png").exists()  # the new run starts in a clean folder
    assert json.loads((out / "config.json").read_text())["recipe"] == "ae"
    # a non-empty folder that is not a run is never emptied
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    code, _, err = run(["train", "ae", "--data", "iris", "--epochs", "1", "--quiet",
                        "--out", other, "--overwrite"], capsys)  # fmt: skip
    assert code == 2 and "holds no run" in err and (other / "thesis.tex").exists()


def test_resume_with_other_settings_says_what_differs(tmp_path, capsys):
    out = tmp_path / "r"
    base = ["--data", "iris", "--epochs", "1", "--quiet", "--out", out]
    assert run(["train", "ae", *base], capsys)[0] == 0
    code, _, err = run(["train", "vae", *base, "--resume"], capsys)
    assert code == 2 and "was written for recipe 'ae', latent 8" in err
    assert "this run asks for recipe 'vae'" in err and "bottleneck" in err
    code, _, err = run(["train", "ae", *base, "--resume", "--latent-dim", "3"], capsys)
    assert code == 2 and "latent 3" in err and "latent_dim" in err
