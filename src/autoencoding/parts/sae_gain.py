"""An SAE decoder with a fixed gain per latent, for SAEs trained by other libraries.

Our decoder ``sae`` keeps unit-norm rows, so a latent's value is its contribution's length.
SAEs saved by other libraries need not: SAELens's ReLU SAEs start with decoder rows of norm
0.1 and never renormalise them, and sparsify renormalises before each step but saves the
weights after the last one. For ReLU and JumpReLU latents the row norms fold into the
encoder (scaling a pre-activation by n > 0 commutes with the activation), but TopK selects
on the *unscaled* pre-activations, so folding would change which latents are kept. This
decoder keeps the library's latent values exactly and applies each row's norm on output::

    x̂ = (Σ_i z_i · g_i · u_i + b_dec) / s        u_i = W_dec[i] / ‖W_dec[i]‖,  g_i stored

Everything else — the unit directions, the shared bias, the input scale and the sparse
decoding — is the decoder ``sae`` (:mod:`.sae_nets`), so the encoder ``sae`` binds to it.
Used by :func:`autoencoding.interp.load_external`; ``g`` is a buffer (not trained).
"""

from __future__ import annotations

import torch

from .base import DECODERS
from .sae_nets import SAEConfig, SAEDecoder
from .sparse_ops import sparse_decode


@DECODERS.register("sae-gain")
class GainSAEDecoder(SAEDecoder):
    """``x̂ = ((z ⊙ g) W_dec + b_dec) / s``: the decoder ``sae`` with a stored gain per latent."""

    Config = SAEConfig

    def __init__(
        self, cfg: SAEConfig, latent_dim: int, output_shape: tuple[int, ...], factor: int = 1
    ) -> None:
        super().__init__(cfg, latent_dim, output_shape, factor)
        self.register_buffer("gain", torch.ones(latent_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return ((z * self.gain) @ self.directions() + self.bias) / self.input_scale

    def decode_sparse(
        self, codes: torch.Tensor, values: torch.Tensor, bias: bool = True
    ) -> torch.Tensor:
        # padded slots (code −1) carry value 0, so any gain will do for them
        scaled = values * self.gain[codes.clamp_min(0)]
        out = sparse_decode(codes, scaled, self.directions())
        if bias:
            out = out + self.bias
        return out / self.input_scale
