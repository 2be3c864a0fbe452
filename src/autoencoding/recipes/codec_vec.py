"""Recipe ``vector-codec``: fixed-size byte codes for embedding vectors.

The model is the quantizer itself: identity encoder and decoder around a residual vector
quantizer (``parts/vector_quant.py``) whose M stages of 256 codes give exactly M bytes per
vector. Its codebooks are fitted before training (greedy k-means per stage, then beam-search
re-encoding alternating with joint least-squares codebook refinement) and fine-tuned by the
reconstruction loss. Bytes per vector: ``model={"bottleneck": {"n_codebooks": 32}}``.
"""

from __future__ import annotations

from .base import Recipe, add_recipe

add_recipe(
    Recipe(
        "vector-codec",
        "Embedding codec: residual VQ, 16 stages x 256 codes (16 bytes/vector), beam-search "
        "encoding, jointly refined codebooks.",
        "Chen et al., Approximate Nearest Neighbor Search by Residual Vector Quantization "
        "(Sensors 2010); Martinez et al., LSQ++ (ECCV 2018); Huijben et al., Residual "
        "Quantization with Implicit Neural Codebooks (ICML 2024)",
        model={
            "latent_dim": "input",
            "encoder": {"name": "identity"},
            "decoder": {"name": "identity"},
            "bottleneck": {
                "name": "residual_vq",
                "n_codebooks": 16,
                "beam": 4,
                "refine_sweeps": 3,
                # True for L2-normalised embeddings trained with scaling="none" (protocol
                # CODEC-VEC); off by default, since 'auto' scaling standardizes features.
                "normalize_output": False,
                "shrinkage": 3.0,
            },
            "reconstruction": {"name": "mse"},
        },
        # The codebooks are fitted before training; a few epochs of small steps fine-tune them.
        train={"epochs": 2, "lr": 1e-4, "batch_size": 256},
    )
)
