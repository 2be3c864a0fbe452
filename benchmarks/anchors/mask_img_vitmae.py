"""Protocol MASK-IMG-PROBE anchor: Hugging Face ``ViTMAEForPreTraining`` built from a config and
trained from scratch, run inside ``benchmarks/.venvs/hf`` (``bash benchmarks/setup_mask_anchors.sh``).

    benchmarks/.venvs/hf/bin/python benchmarks/anchors/mask_img_vitmae.py \\
        --data in.npz --out out.npz --seed 0 [--epochs 200] [--init fixed|shipped]

``in.npz`` (written by ``benchmarks/mask_img_probe.py``): ``x_train`` / ``x_test`` shaped
(n, 1, 16, 16) in [0, 1]. The model is the issue's: image 16, patch 4, 1 channel, hidden 64,
4 encoder layers (4 heads, MLP 256), decoder 2 layers of width 64, mask ratio 0.75, pixel
targets as shipped (``norm_pix_loss`` False). Optimiser as our `mae` recipe (AdamW 1e-3,
weight decay 0.05, betas 0.9 / 0.95, cosine to 0 per step, batch 64), so only the model
differs.

Two library behaviours that the protocol has to undo:

- *Init.* Built from a config, the fixed 2-D sin-cos position embeddings of the encoder and
  the decoder stay at zero (``--init shipped`` keeps that; then every masked patch gets one
  prediction). ``--init fixed`` (default) writes the sin-cos tables after construction with
  the library's own ``initialize_weights`` methods and checks they are non-zero.
- *Masking at eval.* ``ViTMAEModel`` masks ``mask_ratio`` of the patches in eval mode too.
  Features are taken with ``config.mask_ratio = 0`` and ``noise = arange`` (keep every patch,
  in order): the encoder's final-layer-normed tokens, CLS token, mean of the patch tokens and
  the patch tokens flattened in grid order (16 × 64).

``out.npz`` holds ``{cls,mean,flatten}_{train,test}`` features and ``info`` (JSON: fit CPU and wall
seconds, final loss, whether the position tables were zero at construction, versions). The
caller probes the features with its one probe function.
"""

from __future__ import annotations

import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
warnings.filterwarnings("ignore")


def build(seed: int, init: str):
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    cfg = ViTMAEConfig(
        image_size=16,
        patch_size=4,
        num_channels=1,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=256,
        decoder_hidden_size=64,
        decoder_num_hidden_layers=2,
        decoder_num_attention_heads=4,
        decoder_intermediate_size=256,
        mask_ratio=0.75,
        norm_pix_loss=False,
    )
    torch.manual_seed(seed)
    model = ViTMAEForPreTraining(cfg)
    emb, dec = model.vit.embeddings, model.decoder
    zero_at_build = {
        "encoder": bool(emb.position_embeddings.abs().sum() == 0),
        "decoder": bool(dec.decoder_pos_embed.abs().sum() == 0),
    }
    if init == "fixed":
        emb.initialize_weights()  # 2-D sin-cos table, xavier patch projection, cls/mask ~ N(0, .02)
        dec.initialize_weights(emb.num_patches)  # the decoder's 2-D sin-cos table
        assert emb.position_embeddings.abs().sum() > 0 and dec.decoder_pos_embed.abs().sum() > 0
    return model, zero_at_build


def features(model, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    model.eval()
    mask_ratio = model.config.mask_ratio
    model.config.mask_ratio = 0.0  # the embeddings read it at every call
    n_patch = model.vit.embeddings.num_patches
    cls, mean, flat = [], [], []
    with torch.no_grad():
        for xb in x.split(256):
            noise = torch.arange(n_patch, dtype=torch.float32).expand(len(xb), n_patch)
            h = model.vit(pixel_values=xb, noise=noise).last_hidden_state
            assert h.shape[1] == n_patch + 1, h.shape  # every patch kept
            cls.append(h[:, 0])
            mean.append(h[:, 1:].mean(1))
            flat.append(h[:, 1:].flatten(1))  # patch tokens in grid order (noise = arange)
    model.config.mask_ratio = mask_ratio
    return tuple(torch.cat(f).numpy() for f in (cls, mean, flat))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--init", choices=("fixed", "shipped"), default="fixed")
    a = p.parse_args()
    import transformers

    d = np.load(a.data)
    xtr, xte = (torch.from_numpy(d[k].astype(np.float32)) for k in ("x_train", "x_test"))
    model, zero_at_build = build(a.seed, a.init)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95))
    steps = a.epochs * math.ceil(len(xtr) / a.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    gen = torch.Generator().manual_seed(a.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    model.train()
    for epoch in range(a.epochs):
        total = 0.0
        for idx in torch.randperm(len(xtr), generator=gen).split(a.batch_size):
            loss = model(pixel_values=xtr[idx]).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        if epoch % 50 == 0 or epoch == a.epochs - 1:
            print(f"epoch {epoch} loss {total / len(xtr):.4f}", flush=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cls_tr, mean_tr, flat_tr = features(model, xtr)
    cls_te, mean_te, flat_te = features(model, xte)
    info = {
        "fit_wall_s": wall,
        "fit_cpu_s": cpu,
        "epochs": a.epochs,
        "final_loss": total / len(xtr),
        "init": a.init,
        "pos_embed_zero_at_build": zero_at_build,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }
    np.savez(
        a.out,
        cls_train=cls_tr,
        cls_test=cls_te,
        mean_train=mean_tr,
        mean_test=mean_te,
        flatten_train=flat_tr,
        flatten_test=flat_te,
        info=json.dumps(info),
    )
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
