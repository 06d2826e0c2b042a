"""Per-example bits/dim under a likelihood family, the second sets to compare against, and AUROC.

The per-example log-likelihoods use the trainer's evaluation keys (batch i of a split at step t
gets the key the trainer's evaluation used), so the mean over the run's test split is the
trainer's `test/nll` and a stochastic bound scores the same way it is evaluated.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from models.core import mesh as mesh_lib
from models.core.step import as_bounds
from models.data import ArraySource, eval_batches
from models.data.sources import gather

TRANSFORMS = ('noise', 'invert', 'flip')


def per_example_bits(run, source) -> np.ndarray:
    """[N] bits/dim of every example of `source` under the run's headline bound."""
    family, trainer = run.family, run.trainer

    @jax.jit
    def headline(variables, batch, rng):
        return as_bounds(family.log_prob(variables, batch, rng))['log_prob']

    variables = run.variables()
    dims = math.prod(run.spec.shape)
    out = []
    batches = eval_batches(
        source,
        run.config.eval.batch_size,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
    )
    for i, (local, mask) in enumerate(batches):
        batch = mesh_lib.global_batch({**local, '__mask__': mask}, trainer.mesh)
        mask = batch.pop('__mask__')
        log_prob, real = mesh_lib.to_host(
            (headline(variables, batch, trainer.eval_key(run.step, i)), mask)
        )
        out.append(-np.asarray(log_prob, np.float64)[real > 0] / (dims * math.log(2)))
    return np.concatenate(out)


def transformed(source, spec, kind: str, seed: int = 0) -> ArraySource:
    """A copy of `source` as uniform noise (same count and labels), inverted, or mirrored."""
    rows = gather(source, np.arange(len(source)))
    x = np.asarray(rows[spec.key])
    if kind == 'noise':
        rng = np.random.default_rng(seed)
        x = rng.integers(0, spec.num_levels, size=x.shape).astype(x.dtype)
    elif kind == 'invert':
        x = (spec.num_levels - 1 - x).astype(x.dtype)
    elif kind == 'flip':
        x = x[:, :, ::-1]
    else:
        raise ValueError(f'unknown transform {kind!r}; valid: {list(TRANSFORMS)}')
    return ArraySource({**rows, spec.key: np.ascontiguousarray(x)})


def auroc(inliers: np.ndarray, outliers: np.ndarray) -> float:
    """Area under the ROC curve of telling `outliers` from `inliers` by a higher score: the
    probability that a random outlier scores above a random inlier, ties counting a half
    (the Mann-Whitney statistic, from average ranks)."""
    inliers, outliers = np.asarray(inliers, np.float64), np.asarray(outliers, np.float64)
    both = np.concatenate([inliers, outliers])
    order = np.argsort(both, kind='mergesort')
    ranks = np.empty(len(both))
    sorted_values = both[order]
    # Average ranks over runs of equal values.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(both)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    n_in, n_out = len(inliers), len(outliers)
    rank_sum = ranks[n_in:].sum()
    return float((rank_sum - n_out * (n_out + 1) / 2.0) / (n_in * n_out))
