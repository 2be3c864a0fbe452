"""What each logged or evaluated number means, and its unit: the one table the report reads.

Names are looked up without their prefixes (``train/kl``, ``val/kl`` and ``bottleneck/kl`` all
read the ``kl`` line), so a training curve and a test metric of the same quantity are
explained the same way. A name not in the table gets a generic line, never an error: a new
part may log anything.
"""

from __future__ import annotations

from dataclasses import dataclass

#: prefixes stripped before a lookup: where a number was measured, not what it is
PREFIXES = ("train/", "val/", "test/", "bottleneck/")


@dataclass(frozen=True)
class Metric:
    """One line of the table."""

    meaning: str
    """What the number measures, in one line."""
    unit: str
    """Its unit (or "–" for a pure count or ratio whose meaning gives the scale)."""
    better: str = ""
    """"lower", "higher" or "" where neither is better in itself."""


NATS = "nats per sample"

#: reconstruction losses by registry name: the unit of the training ``reconstruction`` term
RECONSTRUCTION_UNITS = {
    "mse": "squared error per entry (scaled data units²)",
    "bernoulli": NATS,
    "gaussian": NATS,
    "fvu": "fraction of variance (0 = exact, 1 = the batch mean)",
}

METRICS: dict[str, Metric] = {
    # -- the training objective ------------------------------------------------------------
    "loss": Metric(
        "the total training objective: the sum of the weighted loss terms", "as its terms", "lower"
    ),
    "reconstruction": Metric(
        "reconstruction loss: how far the decoded output is from the input, as trained",
        "as the model's reconstruction loss (see the unit beside the curve)",
        "lower",
    ),
    # -- test metrics every model gets -----------------------------------------------------
    "n": Metric("test samples the metrics are computed on", "samples"),
    "mse": Metric(
        "mean squared error per entry between the data and the reconstruction's mean",
        "squared scaled data units",
        "lower",
    ),
    "bce": Metric(
        "binary cross-entropy of the reconstruction, summed over entries (data in [0, 1])",
        NATS,
        "lower",
    ),
    "probe_accuracy": Metric(
        "accuracy of a logistic regression on the latents (fitted on the training split)",
        "fraction correct, 0–1",
        "higher",
    ),
    # -- likelihood models -----------------------------------------------------------------
    "neg_elbo": Metric(
        "negative evidence lower bound, −E_q[log p(x|z)] + KL(q(z|x) ‖ p(z)), 10 draws",
        NATS,
        "lower",
    ),
    "nll": Metric(
        "importance-weighted estimate of −log p(x), 200 samples (Burda et al. 2016); ≤ −ELBO",
        NATS,
        "lower",
    ),
    "active_units": Metric(
        "latent dimensions whose posterior mean varies over the data (Var > 0.01)",
        "dimensions",
        "higher",
    ),
    "kl": Metric(
        "KL(q(z|x) ‖ p(z)), summed over latent dimensions, before its weight",
        NATS,
    ),
    "kl_weight": Metric(
        "weight on the KL term (β × warm-up ramp): it rises from 0 to β during warm-up",
        "multiplier",
    ),
    "weight": Metric("weight on the bottleneck's regulariser (β × warm-up ramp)", "multiplier"),
    "kl_tc": Metric(
        "β-TC-VAE's weighted sum of index-code MI, total correlation and dim-wise KL", NATS, "lower"
    ),
    "mi": Metric("index-code mutual information I(x; z), estimated on the batch", NATS),
    "tc": Metric(
        "total correlation of q(z): how far the latent dimensions are from independent",
        NATS,
        "lower",
    ),
    "dim_kl": Metric("dimension-wise KL between q(z_j) and the prior, summed over j", NATS),
    "dip": Metric(
        "DIP-VAE penalty: distance of the latents' covariance from the identity",
        "squared covariance units",
        "lower",
    ),
    "offdiag": Metric(
        "off-diagonal part of the latents' covariance (DIP-VAE)",
        "squared covariance units",
        "lower",
    ),
    "iw_gap": Metric("gap between the ELBO and the importance-weighted bound", NATS),
    "iw_bound": Metric("importance-weighted lower bound on log p(x)", NATS, "higher"),
    "mmd": Metric(
        "maximum mean discrepancy between the latents and the prior (WAE-MMD)",
        "squared kernel distance",
        "lower",
    ),
    "latent_l2": Metric("½‖z‖² penalty on the latents (RAE), weighted", "squared latent units"),
    "latent_half_sq_norm": Metric(
        "½‖z‖² of the latents, before its weight (RAE)", "squared latent units"
    ),
    "decoder_l2": Metric(
        "L2 penalty on the decoder's weights (RAE), weighted", "squared weight units"
    ),
    "nuclear": Metric(
        "nuclear-norm penalty on the latents (low-rank AE), weighted", "latent units"
    ),
    "nuclear_norm": Metric(
        "nuclear norm of the batch of latents, before its weight", "latent units"
    ),
    "contractive": Metric(
        "contractive penalty: squared Frobenius norm of the encoder's Jacobian",
        "squared latent units per input unit",
        "lower",
    ),
    # -- quantisers ------------------------------------------------------------------------
    "commitment": Metric(
        "commitment loss: squared distance from the encoder output to its code",
        "squared latent units",
        "lower",
    ),
    "codebook": Metric(
        "codebook loss: squared distance from each used code to its encoder outputs",
        "squared latent units",
        "lower",
    ),
    "quantization": Metric(
        "squared distance of the encoder output from its quantised value",
        "squared latent units",
        "lower",
    ),
    "quant_error": Metric(
        "mean squared quantisation error ‖h − q(h)‖² per latent entry",
        "squared latent units",
        "lower",
    ),
    "codebook_usage": Metric(
        "fraction of codebook entries used recently", "fraction, 0–1", "higher"
    ),
    "perplexity": Metric(
        "exp(entropy) of code usage: the effective number of codes in use", "codes", "higher"
    ),
    "dead_codes": Metric("codebook entries not used recently", "codes", "lower"),
    # -- sparse autoencoders ---------------------------------------------------------------
    "fvu": Metric(
        "fraction of variance unexplained, Σ‖x − x̂‖² / Σ‖x − x̄‖²",
        "fraction (0 = exact, 1 = the mean)",
        "lower",
    ),
    "l0": Metric("mean number of non-zero latents per sample (L0 norm)", "latents per sample"),
    "l0_weight": Metric("weight λ on the L0 penalty (ramps up during warm-up)", "multiplier"),
    "l1": Metric(
        "L1 penalty on the latent activations, normalised by the data's scale",
        "normalised activation units",
        "lower",
    ),
    "l1_weight": Metric("weight λ on the L1 penalty (ramps up during warm-up)", "multiplier"),
    "auxk": Metric(
        "AuxK loss: dead latents' reconstruction of the residual (Gao et al. 2024)",
        "fraction of variance",
        "lower",
    ),
    "matryoshka": Metric(
        "summed reconstruction losses of the nested latent prefixes",
        "as the reconstruction loss",
        "lower",
    ),
    "dead": Metric(
        "fraction of latents that never fired in the recent window", "fraction, 0–1", "lower"
    ),
    "dense": Metric(
        "fraction of latents active on more than 10% of rows", "fraction, 0–1", "lower"
    ),
    "dead_window": Metric("samples a latent may stay silent before it counts as dead", "samples"),
    "tokens": Metric("activation rows (tokens) the metrics are computed on", "tokens"),
    # -- outliers and disentanglement ------------------------------------------------------
    "roc_auc": Metric(
        "area under the ROC curve of the outlier scores against the labels",
        "0–1 (0.5 = chance)",
        "higher",
    ),
    "average_precision": Metric(
        "average precision of the outlier scores against the labels", "0–1", "higher"
    ),
    "mig": Metric(
        "mutual information gap between the two latents most informative of each factor",
        "normalised, 0–1",
        "higher",
    ),
    "dci_disentanglement": Metric(
        "DCI disentanglement: each latent captures at most one factor", "0–1", "higher"
    ),
    "dci_completeness": Metric(
        "DCI completeness: each factor is captured by one latent", "0–1", "higher"
    ),
    "dci_informativeness": Metric(
        "DCI informativeness: accuracy of predicting the factors from the latents",
        "fraction correct, 0–1",
        "higher",
    ),
    # -- sample quality (evaluate/samples.py), read as samples/<sampler>/<name> -------------
    "samples": Metric(
        "the ways the model samples, each scored on 1000 samples against the test data; one "
        "row per figure: samples/<sampler>/<figure>",
        "sampler names",
    ),
    "fd": Metric(
        "Fréchet distance between 1000 samples and the test data in the feature space named "
        "by feature_space (Heusel et al. 2017)",
        "squared feature units",
        "lower",
    ),
    "fd_pixels": Metric(
        "Fréchet distance between the samples and the test data on the raw entries",
        "squared scaled data units",
        "lower",
    ),
    "precision": Metric(
        "share of samples inside the test data's k-NN manifold, k = 3 (Kynkäänniemi et al. "
        "2019): are the samples realistic?",
        "fraction, 0–1",
        "higher",
    ),
    "recall": Metric(
        "share of test data inside the samples' k-NN manifold, k = 3: is all of the data "
        "generated?",
        "fraction, 0–1",
        "higher",
    ),
    "copy_ratio": Metric(
        "median distance from a sample to its nearest training row ÷ the same for test rows "
        "(well below 1: the samples copy the training set)",
        "ratio (1 = as far as fresh data)",
    ),
    "class_coverage": Metric(
        "classes that receive at least 5% of the samples under the feature space's classifier",
        "classes",
        "higher",
    ),
    # -- probes (evaluate/probes.py) and codecs (evaluate/rd.py) ---------------------------
    "probes": Metric(
        "linear (logistic) and k-NN (k = 5, cosine) probes on the frozen latents, with every "
        "training label and with 10 labels per class (the _10pc keys)",
        "fraction correct, 0–1",
        "higher",
    ),
    "codec": Metric(
        "the model as a codec: bits per sample and bpp from the bytes written (beside the "
        "model's estimate), PSNR and MS-SSIM of the decoded samples, encode / decode seconds",
        "bits, dB, s",
    ),
    "n_samples": Metric("samples the sample-quality figures are computed on", "samples"),
    "feature_space": Metric(
        "where sample distances are measured: classifier-tanh64 (a fixed classifier's hidden "
        "layer, fitted on the training split) or pixels / pixels-pcaN (unlabelled data)",
        "–",
    ),
    # -- bookkeeping -----------------------------------------------------------------------
    "lr": Metric("learning rate in force at the end of the epoch", "per step"),
    "seconds": Metric("wall-clock time of the epoch", "s"),
    "cpu_seconds": Metric("CPU time of the epoch", "s"),
}


def base_name(name: str) -> str:
    """``name`` without its measurement prefixes (``train/kl`` → ``kl``)."""
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if name.startswith(p):
                name, changed = name[len(p) :], True
    return name


def describe(name: str) -> Metric:
    """The table's line for ``name`` (prefixes ignored), or a generic line for one it lacks."""
    key = base_name(str(name))
    if key in METRICS:
        return METRICS[key]
    if key.startswith("samples/") and key.rsplit("/", 1)[-1] in METRICS:
        return METRICS[key.rsplit("/", 1)[-1]]  # samples/<sampler>/<figure>
    if "/" in key and key.split("/", 1)[0] in METRICS:
        return METRICS[key.split("/", 1)[0]]  # probes/linear, codec/bpp: the parent's line
    if key.endswith("_weight"):
        term = key[: -len("_weight")]
        return Metric(f"weight on the {term} term (may ramp up during warm-up)", "multiplier")
    return Metric(f"{key}: logged by the model's parts (no description in the report's table)", "–")


def is_weight(name: str) -> bool:
    """Whether ``name`` is a loss weight (a multiplier on a term), not a term or statistic."""
    key = base_name(name)
    return key == "weight" or key.endswith("_weight")


def weighted_term(weight: str) -> str | None:
    """The term a logged weight multiplies (``kl_weight`` → ``kl``), None when unnamed."""
    key = base_name(weight)
    return key[: -len("_weight")] if key.endswith("_weight") else None
