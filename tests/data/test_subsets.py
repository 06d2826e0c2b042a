"""The class-balanced labelled subset: n per class, fixed by the seed, refused when impossible."""

import numpy as np
import pytest

from models.data import open_split
from models.data.subsets import class_balanced_subset


def test_class_balanced_subset_has_exactly_n_per_class_and_depends_only_on_the_seed():
    labels = np.repeat(np.arange(3), [5, 7, 9])
    chosen = class_balanced_subset(labels, 4, 3, seed=1)
    assert np.bincount(labels[chosen]).tolist() == [4, 4, 4]
    assert np.all(np.diff(chosen) > 0)  # sorted, no repeats
    np.testing.assert_array_equal(chosen, class_balanced_subset(labels, 4, 3, seed=1))
    assert not np.array_equal(chosen, class_balanced_subset(labels, 4, 3, seed=2))
    with pytest.raises(ValueError, match='fewer than 6'):
        class_balanced_subset(labels, 6, 3, seed=0)


def test_class_balanced_subset_keeps_the_selection_of_earlier_runs():
    """The indices the semi-supervised GAN trained on before the subset moved to the data layer
    (same seed, same labelled examples), so earlier results stay reproducible."""
    labels = np.repeat(np.arange(3), [5, 7, 9])
    assert class_balanced_subset(labels, 2, 3, seed=0).tolist() == [2, 4, 9, 11, 14, 20]
    assert class_balanced_subset(labels, 4, 3, seed=1).tolist() == [
        *[0, 1, 2, 4],
        *[8, 9, 10, 11],
        *[12, 13, 18, 20],
    ]


def test_class_balanced_subset_refuses_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r'outside \[0, 3\)'):
        class_balanced_subset(np.array([0, 1, 2, 3, 0, 1, 2]), 1, 3, seed=0)
    with pytest.raises(ValueError, match=r'outside \[0, 2\)'):
        class_balanced_subset(np.array([0, 1, -1, 0, 1]), 1, 2, seed=0)
    with pytest.raises(ValueError, match='per_class >= 1'):
        class_balanced_subset(np.array([0, 1]), 0, 2, seed=0)


def test_class_balanced_subset_of_the_digits():
    source, spec = open_split('digits8x8', 'train', None)
    labels = np.array([source[i]['label'] for i in range(len(source))])
    chosen = class_balanced_subset(labels, 3, spec.num_classes, seed=0)
    assert chosen.shape == (30,) and np.bincount(labels[chosen]).tolist() == [3] * 10
    images = np.stack([source[int(i)][spec.key] for i in chosen])
    assert images.shape == (30, 8, 8, 1)
