"""Contract v2 through the loop: families without a dataset and with sharded loop state,
auxiliary data sources, stochastic evaluation with loop-owned keys and named bounds, and
checkpoints refused when their format or model differs."""

import os

import jax
import numpy as np
import pytest

from experiments.run import load_config
from models.core import config as config_lib
from models.core import run_identity
from models.core.loop import Trainer, train_and_evaluate
from models.core.run_inputs import RunInputs
from models.data import open_split
from tests.core.test_config import CONFIGS


def _toy(kind: str, **overrides):
    config = load_config(f'{CONFIGS[0]}:smoke')
    config.model = 'tests.core.toy_families'
    config.model_kw = {'kind': kind}
    for key, value in overrides.items():
        node = config
        *path, leaf = key.split('.')
        for part in path:
            node = node[part]
        node[leaf] = value
    return config


def _walkers(steps: int):
    config = _toy('random_walkers', **{'train.steps': steps, 'train.checkpoint_every': 3})
    config.data.name = ''
    config.optim = {'policy': config_lib.optimizer(name='sgd', lr=0.05)}
    config.eval.max_batches = 2
    return config


def _run(config, workdir):
    trainer = Trainer(config, str(workdir))
    try:
        final = trainer.run()
        state = trainer.initial_state()  # the newest checkpoint, as a resumed run would see it
        return final, state, trainer
    finally:
        trainer.close()


def test_family_without_a_dataset_shards_its_loop_state_and_resumes_bitwise(tmp_path):
    final, state, trainer = _run(_walkers(6), tmp_path / 'straight')
    assert jax.device_count() == 8
    position = state['state']['position']
    assert position.sharding.spec == trainer.data_sharded.spec  # one walker per device
    assert position.sharding.is_fully_replicated is False
    assert state['state']['episodes'].sharding.is_fully_replicated
    assert 'eval/mean_position' in final and np.isfinite(final['eval/mean_position'])
    picture = tmp_path / 'straight' / 'samples' / 'step_00000006.png'
    assert len(open(picture).read().split()) == 64  # the family's renderer wrote it

    _run(_walkers(3), tmp_path / 'resumed')
    _, resumed, _ = _run(_walkers(6), tmp_path / 'resumed')
    for a, b in zip(
        jax.tree.leaves(jax.device_get(state)),
        jax.tree.leaves(jax.device_get(resumed)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert float(jax.device_get(state['params']['policy']['drift'])) != 0.0


def test_auxiliary_source_is_a_class_balanced_resumable_subset():
    config = _toy('aux_reader')
    config.data.aux.labelled = config_lib.aux_source(batch_size=16, per_class=3, subset_seed=1)
    inputs = RunInputs(config.data, config.train.batch_size, config.eval.batch_size)
    again = RunInputs(config.data, config.train.batch_size, config.eval.batch_size)
    source = inputs.aux_loaders['labelled'].source
    labels = np.array([source[i]['label'] for i in range(len(source))])
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 3))
    for position in (0, 7, 40):  # every position is a pure function of the config
        a, b = inputs[position], again[position]
        assert set(a) == {'image', 'label', 'aux'}
        np.testing.assert_array_equal(a['aux']['labelled']['image'], b['aux']['labelled']['image'])
        assert a['aux']['labelled']['image'].shape == (16, 8, 8, 1)
    train, _ = open_split('digits8x8', 'train', None)
    chosen = {tuple(train[int(i)]['image'].ravel()) for i in source.indices}
    assert all(tuple(x.ravel()) in chosen for x in inputs[3]['aux']['labelled']['image'])


def test_auxiliary_batches_reach_the_loss(tmp_path):
    config = _toy('aux_reader', **{'train.log_every': 1})
    config.data.aux.labelled = config_lib.aux_source(batch_size=16, per_class=3)
    train_and_evaluate(config, str(tmp_path))
    lines = [line for line in open(tmp_path / 'metrics.jsonl') if 'aux/rows' in line]
    assert lines and all('"aux/rows": 16.0' in line for line in lines)


def test_auxiliary_source_for_a_family_that_reads_none_is_refused(tmp_path):
    config = _toy('two_player')
    config.model, config.model_kw = 'tests.core.test_eval_hook', {}  # its make() takes nothing
    config.data.aux.labelled = config_lib.aux_source(batch_size=16)
    with pytest.raises(ValueError, match='takes no aux_specs'):
        Trainer(config, str(tmp_path))


def test_stochastic_bounds_use_loop_keys_independent_of_the_device_count(tmp_path):
    results = {}
    for devices in (8, 1):
        config = _toy('noisy_bounds', **{'mesh.num_devices': devices, 'eval.batch_size': 120})
        trainer = Trainer(config, str(tmp_path / str(devices)))
        try:
            state = trainer.initial_state()
            results[devices] = [trainer.evaluate(state, step) for step in (5, 5, 6)]
        finally:
            trainer.close()
    first, repeat, later = results[8]
    assert first == repeat  # the same step's keys: the same bound
    assert first['test/elbo_nll'] != later['test/elbo_nll']  # another step: other draws
    assert first['test/nll'] == later['test/nll']  # the exact bound draws nothing
    assert set(first) >= {'test/nll', 'test/bpd', 'test/elbo_nll', 'test/elbo_bpd'}
    # About half a nat below the exact bound (the mean of a Uniform[0, 1) draw).
    assert 0.4 < first['test/elbo_nll'] - first['test/nll'] < 0.6
    for one, eight in zip(results[1], results[8], strict=True):
        assert one == pytest.approx(eight, rel=1e-6)


def test_checkpoints_of_another_format_version_are_refused(tmp_path, monkeypatch):
    config = load_config(f'{CONFIGS[0]}:smoke')
    train_and_evaluate(config, str(tmp_path))
    monkeypatch.setattr(run_identity, 'FORMAT_VERSION', run_identity.FORMAT_VERSION + 1)
    with pytest.raises(
        run_identity.IncompatibleCheckpointError, match='format version 2; this code'
    ):
        train_and_evaluate(config, str(tmp_path))
    assert not any(name.endswith('.corrupt') for name in os.listdir(tmp_path / 'checkpoints'))
