"""Whether draws follow given categorical distributions: Pearson's chi-square pooled over
variables, against its mean (degrees of freedom) plus six standard deviations."""

import numpy as np


def assert_follow(draws: np.ndarray, probs: np.ndarray) -> None:
    """draws [N, D] integers; probs [D, K] the distribution each of the D columns should follow."""
    n, d = draws.shape
    k = probs.shape[-1]
    counts = np.stack([np.bincount(draws[:, j], minlength=k) for j in range(d)])  # [D, K]
    expected = n * probs
    used = expected > 5  # cells too small for the chi-square approximation are pooled out
    stat = float((((counts - expected) ** 2 / np.maximum(expected, 1e-12))[used]).sum())
    dof = int(used.sum()) - d
    assert stat < dof + 6 * np.sqrt(2 * dof), (stat, dof)
