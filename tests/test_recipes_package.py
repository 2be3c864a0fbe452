"""The recipes package: no import cycle, recipe metadata instead of family-name checks."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.recipes import RECIPES, Recipe, get_recipe, recipes_for
from autoencoding.recipes.sae import sae_lr
from autoencoding.train import TrainConfig

SRC = Path(ae.__file__).parent
FAMILIES = [
    "codec",
    "codec_vec",
    "continuous",
    "discrete",
    "disentangle",
    "generative",
    "masked",
    "sae",
    "tabular",
]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_module_imports_first_in_a_fresh_interpreter(family):
    code = (
        f"import autoencoding.recipes.{family}, autoencoding as ae; print(len(ae.RECIPES.names()))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == len(RECIPES.names())


def _package_imports(path: Path) -> set[str]:
    """Modules of the recipes package that ``path`` imports (``from .base import`` → "base")."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            out.update([node.module] if node.module else [a.name for a in node.names])
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or "", *(a.name for a in node.names)]
            if node.level == 2 and "recipes" in names or "autoencoding.recipes" in names:
                out.add("__init__")
        elif isinstance(node, ast.Import):
            if any(a.name.startswith("autoencoding.recipes") for a in node.names):
                out.add("__init__")
    return out


def test_family_modules_import_only_the_base_and_nothing_imports_the_package_back():
    pkg = SRC / "recipes"
    assert _package_imports(pkg / "base.py") == set()
    for family in FAMILIES:
        assert _package_imports(pkg / f"{family}.py") == {"base"}, family
    assert _package_imports(pkg / "__init__.py") == {*FAMILIES, "base"}
    assert not any(p.name.startswith("recipes_") for p in SRC.glob("*.py"))


def test_every_recipe_has_a_known_data_kind():
    assert set(recipes_for("activations")) == {n for n in RECIPES.names() if n.startswith("sae")}
    assert "vae" in recipes_for("samples")
    with pytest.raises(ae.AutoencodingError, match="data_kind must be one of"):
        Recipe("x", "x", "x", data_kind="images")


@pytest.fixture
def derived_recipe(monkeypatch):
    """A recipe whose ``derive_train`` sets lr and weight decay from the width and run length."""
    calls = []

    def derive(model, rows, train):
        calls.append((model, rows, dict(train)))
        return {"lr": 1e-4 * model.latent_channels, "weight_decay": rows * train["epochs"] * 1e-6}

    recipe = Recipe(
        "test-derived",
        "A test recipe with derived training settings.",
        "none",
        model={"latent_dim": 3, "bottleneck": {"name": "identity"}},
        train={"epochs": 2, "batch_size": 20, "lr": 1.0, "val_fraction": 0.0},
        derive_train=derive,
    )
    monkeypatch.setitem(RECIPES._items, recipe.name, recipe)
    return recipe, calls


def test_fit_applies_the_recipes_derived_training_settings(derived_recipe):
    _, calls = derived_recipe
    x = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    m = ae.fit("test-derived", x, train={"progress": False}, scaling="none")
    ((model, rows, train),) = calls
    assert model.latent_dim == 3 and model.recipe == "test-derived"
    assert rows == 60 and train["epochs"] == 2 and train["batch_size"] == 20
    assert m.info["train"]["lr"] == pytest.approx(3e-4)
    assert m.info["train"]["weight_decay"] == pytest.approx(120e-6)
    # the user's settings win over derived ones, key by key
    m = ae.fit(
        "test-derived",
        x,
        model={"latent_dim": 4},
        train={"progress": False, "lr": 5e-3, "epochs": 1},
        scaling="none",
    )
    assert m.info["train"]["lr"] == 5e-3
    assert m.info["train"]["weight_decay"] == pytest.approx(60e-6)
    assert calls[-1][0].latent_dim == 4
    # a TrainConfig is taken as it is: nothing derived
    cfg = TrainConfig(epochs=1, batch_size=20, lr=2e-3, progress=False)
    m = ae.fit("test-derived", x, train=cfg, scaling="none")
    assert m.info["train"]["lr"] == 2e-3 and m.info["train"]["weight_decay"] == 0.0
    assert len(calls) == 2


def test_fit_derives_an_sae_recipes_lr_from_width_and_run_length():
    x = np.random.default_rng(0).normal(size=(400, 8)).astype(np.float32)
    train = {"epochs": 2, "batch_size": 100, "progress": False}
    m = ae.fit("sae-topk", x, model={"latent_dim": 32, "bottleneck": {"k": 4}}, train=train)
    assert m.info["train"]["lr"] == pytest.approx(sae_lr(32, 8))
    assert m.info["train"]["warmup_steps"] == 4


def test_train_sae_rejects_a_recipe_not_made_for_activations():
    from autoencoding.interp import train_sae

    acts = torch.randn(50, 8)
    with pytest.raises(ae.AutoencodingError, match="made for activations") as e:
        train_sae(acts, "vae")
    for name in recipes_for("activations"):
        assert name in str(e.value)
    assert get_recipe("vae").data_kind == "samples"


# Family-name checks: comparing a recipe name (or the SAE nets' name) to a config value.
_NAMES = "|".join(re.escape(n) for n in sorted({*RECIPES.names(), "sae"}, key=len, reverse=True))
_FAMILY_CHECK = re.compile(
    rf"""(==|!=)\s*["']({_NAMES})\b"""
    rf"""|["']({_NAMES})["']\s*(==|!=)"""
    rf"""|(startswith|removeprefix|endswith)\(\s*["']({_NAMES})"""
    rf"""|\bin\s*[(\[{{][^)\]}}]*["']({_NAMES})["']"""
)


def test_generic_code_has_no_family_name_checks():
    files = [SRC / "api.py", SRC / "cli.py", *(SRC / "interp").glob("*.py")]
    files += (SRC / "estimators").glob("*.py")
    found = [
        f"{f.relative_to(SRC)}:{i}: {line.strip()}"
        for f in files
        for i, line in enumerate(f.read_text().splitlines(), 1)
        if _FAMILY_CHECK.search(line)
    ]
    assert not found, "family-name checks (use recipe metadata instead):\n" + "\n".join(found)
    assert _FAMILY_CHECK.search('if mcfg.encoder.get("name") == "sae":')
    assert _FAMILY_CHECK.search('if recipe.startswith("sae-"):')
