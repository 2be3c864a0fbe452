"""Scaling fitted on the training split and stored with the model (as plain JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import AutoencodingError

Kind = Literal["none", "standard", "minmax", "range"]
KINDS = ("none", "standard", "minmax", "range")


@dataclass
class Scaler:
    """x_scaled = (x - shift) / scale, per feature (or one value for all)."""

    kind: Kind = "none"
    shift: list[float] | float = 0.0
    scale: list[float] | float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AutoencodingError(
                f"scaler kind {self.kind!r} is unknown; expected one of {', '.join(KINDS)}"
            )
        for name, value in (("shift", self.shift), ("scale", self.scale)):
            try:
                v = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise AutoencodingError(
                    f"scaler {self.kind!r}: its {name} must be a number or a list of numbers, "
                    f"got {value!r}"
                ) from None
            # a fitted scale is a spread or a range: never <= 0 (a negative one would mirror
            # the data, a zero one divide by zero)
            if not np.isfinite(v).all() or (name == "scale" and (v <= 0).any()):
                raise AutoencodingError(
                    f"scaler {self.kind!r}: its {name} must be finite"
                    + (" and positive" if name == "scale" else "")
                    + f", got {v.tolist() if v.ndim else float(v)}"
                )

    @classmethod
    def fit(
        cls, kind: str, x: np.ndarray, value_range: tuple[float, float] | None = None
    ) -> Scaler:
        """``auto``: a known value range maps to [0, 1]; data already in [0, 1] is kept;
        anything else is standardized per feature."""
        if kind == "auto":
            if value_range is not None:
                kind = "range"
            elif x.min() >= 0 and x.max() <= 1:
                kind = "none"
            else:
                kind = "standard"
        # float64 statistics: a float32 variance of values near 1e20 already overflows to inf
        flat = x.reshape(len(x), -1).astype(np.float64)
        if kind == "none":
            return cls("none")
        if kind == "range":
            lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
            return cls("range", float(lo), float(hi - lo) or 1.0)
        if kind == "standard":
            mean = flat.mean(0)
            std = flat.std(0)
            std[std < 1e-8] = 1.0  # constant features pass through centred
            return cls("standard", mean.tolist(), std.tolist())
        if kind == "minmax":
            lo, hi = flat.min(0), flat.max(0)
            span = hi - lo
            span[span < 1e-8] = 1.0
            return cls("minmax", lo.tolist(), span.tolist())
        raise AutoencodingError(
            f"unknown scaling {kind!r}; expected one of auto, none, standard, minmax, range"
        )

    def _arrays(self, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        shift = np.asarray(self.shift, dtype=np.float64)
        scale = np.asarray(self.scale, dtype=np.float64)
        if shift.ndim and shift.shape[0] != n_features:
            raise AutoencodingError(
                f"scaler was fitted on {shift.shape[0]} features, data has {n_features}"
            )
        return shift, scale

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return x.astype(np.float32, copy=False)
        flat = x.reshape(len(x), -1)
        shift, scale = self._arrays(flat.shape[1])
        out = (flat.astype(np.float64) - shift) / scale
        too_big = np.abs(out) > np.finfo(np.float32).max
        if too_big.any():
            j = int(np.argwhere(too_big)[0][1])
            raise AutoencodingError(
                f"feature {j}: after {self.kind} scaling its values reach "
                f"{float(np.abs(out[:, j]).max()):.3g}, beyond what float32 holds (3.4e38); "
                f"rescale that feature (e.g. take its log) or use scaling 'standard'"
            )
        return out.astype(np.float32).reshape(x.shape)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return x
        flat = x.reshape(len(x), -1)
        shift, scale = self._arrays(flat.shape[1])
        return (flat * scale + shift).astype(np.float32).reshape(x.shape)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shift": self.shift, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        if not isinstance(d, dict) or not {"kind", "shift", "scale"} <= set(d):
            raise AutoencodingError(
                f"malformed scaler entry: expected a mapping with kind, shift and scale, got "
                f"{str(d)[:80]}"
            )
        return cls(d["kind"], d["shift"], d["scale"])
