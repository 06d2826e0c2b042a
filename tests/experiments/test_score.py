"""experiments.score: per-example bits/dim that average to the trainer's test number, and an
AUROC near 1 for digits against uniform noise and near 0.5 for the test split against itself."""

import numpy as np
import pytest

from experiments import score, scoring
from tests.experiments.refusals import refused


def test_auroc_is_the_pairwise_probability_with_ties_halved():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 6, 50).astype(float), rng.integers(1, 7, 40).astype(float)
    pairwise = np.mean((b[None, :] > a[:, None]) + 0.5 * (b[None, :] == a[:, None]))
    assert scoring.auroc(a, b) == pytest.approx(pairwise, abs=1e-12)


def test_digits_against_noise_and_against_themselves(baseline_run, tmp_path):
    workdir, _, final = baseline_run
    inliers, outliers, area = score.main(
        ['--workdir', workdir, '--against', 'noise', '--out', str(tmp_path / 'noise')]
    )
    assert len(inliers) == len(outliers) == 360
    # The trainer sums in float32 on the devices, this mean is taken in float64 on the host.
    assert inliers.mean() == pytest.approx(final['test/bpd'], rel=1e-6)
    assert area > 0.99
    assert (tmp_path / 'noise.png').stat().st_size > 0
    _, _, same = score.main(['--workdir', workdir, '--against', 'test'])
    assert abs(same - 0.5) < 0.02
    _, _, train = score.main(['--workdir', workdir, '--against', 'train'])
    assert abs(train - 0.5) < 0.1  # the per-pixel floor barely overfits


def test_score_refusals(baseline_run, toy_run):
    workdir, _, _ = baseline_run
    assert 'likelihood family' in refused(score.main, ['--workdir', toy_run, '--against', 'noise'])
    assert 'Unknown split' in refused(score.main, ['--workdir', workdir, '--against', 'valid'])
