# How these folders were written: autoencoding 0.1.0 (before core v2), from the repository
# root: `python tests/data/v0_1/make_fixtures.py`. They pin that folders saved by that release
# keep loading unchanged.
import json

import numpy as np
import torch
from sklearn.datasets import load_digits, load_wine

import autoencoding as ae

torch.set_num_threads(1)
x = load_digits().data[:200] / 16
out = {}
specs = {
    "vae": ("vae", x, {"latent_dim": 4, "encoder": {"name": "mlp", "hidden": [16]}}),
    "vqvae": ("vqvae", x, {"encoder": {"name": "mlp", "hidden": [16]}}),
    "sae-topk": (
        "sae-topk",
        np.random.default_rng(0).normal(size=(512, 16)).astype("float32"),
        {"latent_dim": 32, "bottleneck": {"name": "topk", "k": 4}},
    ),
    "remasker": ("remasker", load_wine().data, {}),
    "conv-ae": ("ae", x.reshape(-1, 1, 8, 8), {"encoder": {"name": "conv2d", "channels": [8, 8]}}),
}
for name, (recipe, data, model) in specs.items():
    m = ae.fit(
        recipe, data, model=model, train={"epochs": 1, "progress": False, "batch_size": 64}, seed=0
    )
    m.save(f"tests/data/v0_1/{name}")
    probe = data[:3]
    if recipe == "remasker":
        probe = probe.copy()
    out[name] = {"encode": m.encode(probe).tolist(), "reconstruct": m.reconstruct(probe).tolist()}
json.dump(out, open("tests/data/v0_1/expected.json", "w"))
