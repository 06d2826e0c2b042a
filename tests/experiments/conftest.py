"""Finished runs the command tests share: trained once per session (a smoke run of the per-pixel
baseline, whose conditionals are known, and a two-step toy family with no likelihood)."""

import pytest

from experiments.run import load_config
from models.core.loop import train_and_evaluate

BASELINE = 'experiments/configs/pixel_categorical_digits.py'


@pytest.fixture(scope='session')
def baseline_run(tmp_path_factory):
    """(workdir, config, final metrics) of the baseline's smoke variant, finished."""
    workdir = str(tmp_path_factory.mktemp('baseline_run'))
    config = load_config(f'{BASELINE}:smoke')
    final = train_and_evaluate(config, workdir)
    return workdir, config, final


@pytest.fixture(scope='session')
def toy_run(tmp_path_factory):
    """A finished run of a family with no dataset, no likelihood and no pieces (2-D points)."""
    workdir = str(tmp_path_factory.mktemp('toy_run'))
    config = load_config(f'{BASELINE}:smoke')
    config.model = 'tests.core.toy_families'
    config.model_kw = {'kind': 'two_player'}
    config.data.name = ''
    config.optim = {'a': config.optim.model, 'b': config.optim.model}
    config.train.steps = 2
    config.train.checkpoint_every = 0
    train_and_evaluate(config, workdir)
    return workdir
