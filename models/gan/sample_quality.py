"""The test-time evaluation of an unconditional GAN: one generator sample per test example,
scored with a feature network against the real test images (Inception score of the samples and of
the real images, FID between them) plus the discriminator's mean belief in each.

Protocol (documented because the papers' numbers depend on it): samples are drawn with the
evaluation parameters (EMA where kept), rounded to the dataset's levels like real data, and mapped
to [-1, 1] for the feature network. The number of samples equals the test split's size (360 on
the digits, 10,000 on CIFAR-10; the Improved-GAN paper used 50,000 samples in 10 splits, so
for its protocol set `score_splits=10` and evaluate on a 50,000-row split). FID is computed against
the test split's features, so it includes the small-sample bias of N rows (about 19 between the
digits' test and train sets with the digits classifier).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from models.core.family import Evaluation, Variables
from models.gan import data_scaling
from models.gan.metrics import scores
from models.gan.metrics.feature_net import FeatureNet


def resolve_feature_net(data_spec, feature_net: str, inception_weights: str) -> FeatureNet | None:
    """'auto': the digits classifier on digits8x8, Inception-v3 where weights are given, else
    none; 'digits' / 'inception' force one; 'none' turns scoring off."""
    choices = ('auto', 'digits', 'inception', 'none')
    if feature_net not in choices:
        raise ValueError(f'feature_net={feature_net!r}; valid choices: {list(choices)}')
    if feature_net == 'none' or data_spec.num_levels is None:
        return None
    if feature_net == 'inception' or (feature_net == 'auto' and inception_weights):
        if not inception_weights:
            raise ValueError(
                "feature_net='inception' needs inception_weights=<path to the Inception-v3 "
                'weights file> (see models/gan/metrics/inception_v3.py); nothing is downloaded'
            )
        from models.gan.metrics import inception_v3

        return inception_v3.feature_net(inception_weights)
    if feature_net == 'digits' or data_spec.name == 'digits8x8':
        if tuple(data_spec.shape) != (8, 8, 1):
            raise ValueError(f'the digits classifier scores 8x8x1 images, not {data_spec.shape}')
        from models.gan.metrics import digits_classifier

        return digits_classifier.feature_net()
    return None


def make_evaluation(
    data_spec,
    real_view: Callable[[jax.Array], jax.Array],
    generate: Callable[[Variables, jax.Array, int], jax.Array],
    real_logit: Callable[[Variables, jax.Array], jax.Array],
    net: FeatureNet | None,
    splits: int = 1,
) -> Evaluation:
    """`real_view(x)` -> real data as the networks see it ([-1, 1], cropped and resized);
    `generate(variables, rng, num)` -> generator output in [-1, 1] (or points);
    `real_logit(variables, x)` -> the discriminator's real-vs-fake logit [N] in evaluation mode."""

    def outputs(variables, batch, rng):
        x = batch[data_spec.key]
        fake = generate(variables, rng, x.shape[0])
        if data_spec.num_levels is not None:
            # What a user sees: samples rounded to the data's levels, like the real images.
            levels = data_scaling.to_levels(fake, data_spec.num_levels)
            fake = data_scaling.to_signed(levels, data_spec.num_levels)
        real = real_view(x)
        rows = {
            'disc_real': jax.nn.sigmoid(real_logit(variables, real)),
            'disc_fake': jax.nn.sigmoid(real_logit(variables, fake)),
        }
        if net is not None:
            rows['real_logits'], rows['real_features'] = net.apply(real)
            rows['fake_logits'], rows['fake_features'] = net.apply(fake)
        return {k: v.astype(jnp.float32) for k, v in rows.items()}

    def summarize(rows):
        result = {
            'test/disc_real_prob': float(np.mean(rows['disc_real'])),
            'test/disc_fake_prob': float(np.mean(rows['disc_fake'])),
        }
        if net is not None:
            name = net.name
            result[f'test/{name}_is'], result[f'test/{name}_is_std'] = scores.inception_score(
                rows['fake_logits'], splits
            )
            result[f'test/{name}_is_real'] = scores.inception_score(rows['real_logits'], splits)[0]
            result[f'test/{name}_fid'] = scores.fid(rows['fake_features'], rows['real_features'])
        return result

    return Evaluation(outputs, summarize)
