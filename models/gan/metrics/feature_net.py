"""The interface every scoring network offers: class logits (Inception score) and a feature
layer (FID) for images in [-1, 1]."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax


class FeatureNet(NamedTuple):
    name: str  # recorded in metric names: test/<name>_is, test/<name>_fid
    image_shape: tuple[int, int, int]  # what `apply` expects; other shapes are resized by it
    apply: Callable[[jax.Array], tuple[jax.Array, jax.Array]]  # [N,H,W,C] -> ([N,K], [N,F])
