"""Protocol SAE, the SAE inside the model: spliced-in metrics and cross-seed overlap on MiniLM.

Trains our `sae-topk` at its defaults on protocol SAE's cached MiniLM layer-3 activations
(the same store and split as ``sae_minilm.py``; seeds 0 and 1), then:

- **splice**: MiniLM is run on the held-out end of the built-in corpus with the layer-3
  residual replaced by the SAE's reconstruction at every non-special token (as in
  training, [CLS] / [SEP] / padding keep their activations); reported is the cosine between
  the clean and the spliced sentence embeddings (mean-pooled last hidden state), beside two
  baselines computed the same way: the activation zero-ablated and replaced by its mean (the dataset
  mean activation) — how much of the embedding the SAE keeps;
- **cross-seed overlap** ("Sparse Autoencoders Trained on the Same Data Learn Different
  Features", Paulo & Belrose 2025): the fraction of seed 0's decoder directions that seed 1
  also learned (cosine ≥ 0.7);
- the latent activation-frequency histogram of seed 0 on the eval split (PNG).

    python benchmarks/sae_minilm_splice.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "2")
import _bench  # noqa: E402,I001

import torch  # noqa: E402

from autoencoding.interp import builtin_corpus, feature_overlap, train_sae  # noqa: E402
from autoencoding.interp.evaluation import evaluate_splice, frequency_histogram  # noqa: E402
from autoencoding.interp.evaluation import plot_frequency_histogram  # noqa: E402
from autoencoding.interp.models import load_model  # noqa: E402
from autoencoding.interp.splice import patch  # noqa: E402
from autoencoding.interp.train import sae_statistics  # noqa: E402
from sae_minilm import BATCH, HOOK, K, LATENTS, open_store  # noqa: E402

TOKENS = 20_000


def baseline_cosine(model, tok, texts, value: torch.Tensor) -> float:
    from autoencoding.interp.models import Windows, pad_id

    win = Windows(tok, texts, 126)
    win.limit(TOKENS)
    num = den = 0.0
    with torch.no_grad():
        for b in win.batches(8, pad_id(tok)):
            inputs = {k: v for k, v in b.items() if k in ("input_ids", "attention_mask")}
            m = inputs["attention_mask"].unsqueeze(-1).float()
            clean = model(**inputs).last_hidden_state
            kept = b["keep"].unsqueeze(-1)
            with patch(model, HOOK, lambda h, k=kept: torch.where(k, value.to(h.dtype), h)):
                ablated = model(**inputs).last_hidden_state
            e1, e2 = (clean * m).sum(1) / m.sum(1), (ablated * m).sum(1) / m.sum(1)
            num += float(torch.nn.functional.cosine_similarity(e1, e2).sum())
            den += len(e1)
    return num / den


def main() -> dict:
    store = open_store(None)
    train, held = store.split(0.9)
    saes = [
        train_sae(
            train,
            "sae-topk",
            latents=LATENTS,
            k=K,
            seed=s,
            train={"batch_size": BATCH, "epochs": 2, "progress": False},
        )
        for s in (0, 1)
    ]
    model, tok = load_model("minilm")
    texts = builtin_corpus()
    eval_texts = texts[int(0.9 * len(texts)) :]  # the corpus's end, as the eval split
    res: dict = {"tokens": TOKENS}
    for s, sae in enumerate(saes):
        sp = evaluate_splice(
            model, tok, sae.module, HOOK, eval_texts, max_tokens=TOKENS, progress=False
        )
        res[f"seed{s}_embedding_cosine"] = sp["embedding_cosine"]
    mean = torch.cat(list(train.iter_chunks(65536))).float().mean(0)
    res["zero_ablation_cosine"] = baseline_cosine(model, tok, eval_texts, torch.zeros_like(mean))
    res["mean_ablation_cosine"] = baseline_cosine(model, tok, eval_texts, mean)
    dirs = [sae.module.decoder.directions().detach() for sae in saes]
    res["cross_seed_overlap_0.7"] = feature_overlap(dirs[0], dirs[1], 0.7)
    res["cross_seed_overlap_0.9"] = feature_overlap(dirs[0], dirs[1], 0.9)
    ev, frequency = sae_statistics(saes[0].module, held)
    hist = frequency_histogram(frequency, int(ev["tokens"]))
    png = plot_frequency_histogram(
        hist,
        _bench.RESULTS / "sae_minilm_frequency.png",
        "sae-topk defaults, MiniLM layer 3, eval split",
    )
    res["histogram"] = hist
    for k, v in res.items():
        if k != "histogram":
            print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}", flush=True)
    table = "\n".join(
        [
            f"Spliced into MiniLM at {HOOK} (first {TOKENS} tokens of the corpus's last 10%):",
            "",
            "| replacement of the layer-3 residual | cosine of sentence embeddings to clean |",
            "|---|---|",
            f"| sae-topk defaults, seed 0 | {res['seed0_embedding_cosine']:.4f} |",
            f"| sae-topk defaults, seed 1 | {res['seed1_embedding_cosine']:.4f} |",
            f"| mean activation (mean ablation) | {res['mean_ablation_cosine']:.4f} |",
            f"| zeros (zero ablation) | {res['zero_ablation_cosine']:.4f} |",
            "",
            f"Cross-seed overlap (seed 0 directions found by seed 1): "
            f"{res['cross_seed_overlap_0.7']:.3f} at cosine ≥ 0.7, "
            f"{res['cross_seed_overlap_0.9']:.3f} at ≥ 0.9.",
            f"Activation-frequency histogram (seed 0, eval split): {png.name}",
        ]
    )
    _bench.write_result("sae_minilm_splice", res, table)
    return res


if __name__ == "__main__":
    main()
