"""Subsets of a split chosen on the host: the labelled examples of semi-supervised training.

Salimans et al., "Improved Techniques for Training GANs", arXiv:1606.03498, section 5: a fixed
number of labelled examples per class (100 on MNIST, 4,000 on CIFAR-10), the rest of the split
used without labels. Which examples are labelled is fixed by a seed, so a resumed or repeated run
trains on the same ones.
"""

from __future__ import annotations

import numpy as np


def class_balanced_subset(
    labels: np.ndarray, per_class: int, num_classes: int, seed: int
) -> np.ndarray:
    """Sorted indices of `per_class` examples of each class 0..num_classes-1, chosen by `seed`.

    labels: [N] integer class of every example of the split. The draw is one permutation per
    class, in class order, from one generator seeded with `seed`: the same seed gives the same
    subset whatever else the run changes.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f'labels must be one class per example, [N]; got shape {labels.shape}')
    if per_class < 1 or num_classes < 1:
        raise ValueError(
            f'need per_class >= 1 and num_classes >= 1; got {per_class}, {num_classes}'
        )
    outside = (labels < 0) | (labels >= num_classes)
    if outside.any():
        raise ValueError(
            f'{int(outside.sum())} labels lie outside [0, {num_classes}), '
            f'e.g. {labels[outside][0]}: not a {num_classes}-class split'
        )
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f'class {c} has {len(members)} examples, fewer than {per_class}')
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen))
