"""Inception score, FID (with its matrix square root) and the code-to-label matching, checked by
hand; real digits must score as expected with the in-repo digits classifier."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from models.data import open_split
from models.gan import dcgan
from models.gan.data_scaling import to_signed
from models.gan.metrics import digits_classifier, scores
from models.gan.metrics.matching import best_matching_accuracy


def test_inception_score_limits_and_splits():
    k = 5
    confident_and_diverse = np.log(np.eye(k)[np.arange(100) % k] * 0.999999 + 1e-9)
    assert scores.inception_score(confident_and_diverse, splits=1)[0] == pytest.approx(k, rel=1e-3)
    undecided = np.zeros((100, k))
    assert scores.inception_score(undecided, splits=1)[0] == pytest.approx(1.0)
    collapsed = np.tile([10.0, 0, 0, 0, 0], (100, 1))  # confident, but always the same class
    assert scores.inception_score(collapsed, splits=1)[0] == pytest.approx(1.0, abs=1e-3)
    # Splits: each chunk has its own marginal; two chunks of one class each score 1 apiece.
    halves = np.concatenate(
        [np.tile([20.0, 0, 0, 0, 0], (50, 1)), np.tile([0, 20.0, 0, 0, 0], (50, 1))]
    )
    assert scores.inception_score(halves, splits=1)[0] == pytest.approx(2.0, rel=1e-3)
    mean, std = scores.inception_score(halves, splits=2)
    assert mean == pytest.approx(1.0, abs=1e-3) and std == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match='splits'):
        scores.inception_score(undecided[:3], splits=10)


def test_matrix_square_root_and_trace_against_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 6))
    b = rng.normal(size=(30, 6)) @ rng.normal(size=(6, 6))
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scores.sqrtm_psd(cov_a)
    np.testing.assert_allclose(root @ root, cov_a, atol=1e-10)
    reference = np.trace(scipy.linalg.sqrtm(cov_a @ cov_b)).real
    np.testing.assert_allclose(scores.trace_sqrt_product(cov_a, cov_b), reference, rtol=1e-8)
    # Rank-deficient covariances (fewer samples than features) stay real and finite.
    few = np.cov(rng.normal(size=(4, 10)), rowvar=False)
    assert np.isfinite(scores.trace_sqrt_product(few, few))
    np.testing.assert_allclose(scores.trace_sqrt_product(few, few), np.trace(few), rtol=1e-6)


def test_fid_of_gaussians_matches_the_closed_form():
    mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = scores.frechet_distance(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    x = np.random.default_rng(1).normal(size=(50, 4))
    assert scores.fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_best_matching_finds_a_permuted_labelling():
    labels = np.repeat(np.arange(4), 10)
    codes = (labels + 1) % 4
    accuracy, mapping = best_matching_accuracy(codes, labels, 4, 4)
    assert accuracy == 1.0 and mapping == {1: 0, 2: 1, 3: 2, 0: 3}
    codes[:5] = 0  # five of label 0 now wear code 0, which belongs to label 3
    assert best_matching_accuracy(codes, labels, 4, 4)[0] == pytest.approx(35 / 40)


def test_real_digits_score_high_and_an_untrained_generator_scores_badly():
    net = digits_classifier.feature_net()
    test, _ = open_split('digits8x8', 'test', None)
    train, _ = open_split('digits8x8', 'train', None)
    test_x = test.gather(np.arange(len(test)))
    train_x = train.gather(np.arange(len(train)))['image']
    logits, test_features = net.apply(to_signed(jnp.asarray(test_x['image']), 17))
    accuracy = np.mean(np.argmax(logits, -1) == test_x['label'])
    _, train_features = net.apply(to_signed(jnp.asarray(train_x), 17))
    real_is = scores.inception_score(np.asarray(logits), splits=1)[0]
    real_fid = scores.fid(np.asarray(test_features), np.asarray(train_features))
    assert accuracy > 0.95
    assert real_is > 8.5  # of at most 10
    assert real_fid < 40.0

    family = dcgan.make(
        open_split('digits8x8', 'test', None)[1],
        latent_dim=8,
        gen_width=8,
        disc_width=8,
        feature_net='none',
    )
    variables = family.init(jax.random.PRNGKey(0), {'image': jnp.asarray(train_x[:16])})
    samples = family.sample(variables, jax.random.PRNGKey(1), len(test))
    fake_logits, fake_features = net.apply(to_signed(samples, 17))
    fake_is = scores.inception_score(np.asarray(fake_logits), splits=1)[0]
    fake_fid = scores.fid(np.asarray(fake_features), np.asarray(train_features))
    assert fake_is < 0.5 * real_is
    assert fake_fid > 10 * real_fid


def test_cached_classifier_is_reloaded_bit_for_bit():
    first = digits_classifier.load_or_train()
    again = digits_classifier.load_or_train()
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
