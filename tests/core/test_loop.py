"""The training loop end to end: every experiment's smoke variant, outputs on disk, and the
clear errors a user gets for bad input, a missing dataset, and a non-finite loss."""

import glob
import json
import os

import jax
import numpy as np
import pytest

from experiments.run import load_config
from models.core.inputs import BadInputError
from models.core.loop import NonFiniteLossError, Trainer, train_and_evaluate
from models.data import DatasetNotFoundError
from tests.core.test_config import CONFIGS


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_smoke_variant_trains_and_writes_outputs(path, tmp_path):
    config = load_config(f'{path}:smoke')
    final = train_and_evaluate(config, str(tmp_path))
    # A likelihood model reports test/nll; a GAN its own test metrics (Family.evaluation).
    assert final and all(np.isfinite(v) for v in final.values()), final
    lines = [json.loads(s) for s in open(tmp_path / 'metrics.jsonl')]
    assert lines[-1]['step'] == config.train.steps
    assert glob.glob(str(tmp_path / 'tensorboard' / 'events.out.tfevents.*'))
    assert glob.glob(str(tmp_path / 'samples' / '*.png'))
    assert os.path.isdir(tmp_path / 'checkpoints' / str(config.train.steps))
    assert json.load(open(tmp_path / 'config.json'))['model'] == config.model


def test_baseline_learns_on_digits(tmp_path):
    """The per-pixel floor must fit the digits' marginals: far below the uniform 4.09 bits/dim."""
    config = load_config(CONFIGS[0])
    config.train.steps = 300
    config.train.progress = False
    final = train_and_evaluate(config, str(tmp_path))
    assert final['test/bpd'] < 2.6
    assert final['test/count'] == 360


def _nan_config():
    config = load_config(f'{CONFIGS[0]}:smoke')
    config.model = 'tests.core.toy_families'
    config.model_kw = {'kind': 'nan_above'}
    config.optim.model.name = 'sgd'
    config.optim.model.lr = 0.05
    config.optim.model.schedule = 'constant'
    config.optim.model.ema_decay = 0.0
    config.train.log_every = 1
    config.train.checkpoint_every = 2
    config.train.steps = 10
    return config


def test_nonfinite_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    config = _nan_config()
    with pytest.raises(NonFiniteLossError, match=r'step 3\b.*checkpoint \(step 2\)'):
        train_and_evaluate(config, str(tmp_path))
    trainer = Trainer(config, str(tmp_path))
    state = jax.device_get(trainer.initial_state())
    trainer.close()
    assert int(state['step']) == 2
    np.testing.assert_allclose(state['params']['model']['w'], 0.95, rtol=1e-5)


def test_nonfinite_skip_mode_finishes_and_counts(tmp_path):
    config = _nan_config()
    config.train.on_nonfinite = 'skip'
    train_and_evaluate(config, str(tmp_path))
    last = [json.loads(s) for s in open(tmp_path / 'metrics.jsonl') if 'nonfinite/skipped' in s]
    assert last[-1]['nonfinite/skipped'] == 7  # steps 3..9 are all poisoned


def test_missing_dataset_names_it_and_how_to_prepare(tmp_path):
    config = load_config(f'{CONFIGS[0]}:smoke')
    config.data.name = 'cifar10'
    config.data.data_dir = str(tmp_path / 'empty')
    with pytest.raises(DatasetNotFoundError, match=r'cifar10.*empty') as info:
        Trainer(config, str(tmp_path / 'run'))
    assert 'array_record' in str(info.value)


def test_out_of_range_levels_are_refused_before_compiling(tmp_path, monkeypatch):
    from models.core import loop, run_inputs
    from models.core.inputs import check_batch
    from models.data import ArraySource, open_split

    real, spec = open_split('digits8x8', 'test', None)
    bad = np.full((len(real), 8, 8, 1), 17, np.uint8)  # one level past the declared 17

    def fake_open_split(name, split, data_dir, cache):
        return ArraySource({'image': bad, 'label': np.zeros(len(bad), np.int32)}), spec

    def no_compile(*args, **kwargs):
        raise AssertionError('the step was built before the data were checked')

    monkeypatch.setattr(run_inputs, 'open_split', fake_open_split)
    monkeypatch.setattr(loop, 'make_train_step', no_compile)
    config = load_config(f'{CONFIGS[0]}:smoke')
    with pytest.raises(BadInputError, match=r'\[17, 17\], outside the declared 17 levels'):
        Trainer(config, str(tmp_path))

    with pytest.raises(BadInputError, match=r'outside the declared 17 levels'):
        check_batch({'image': bad[:2]}, spec, 'digits8x8/test')
    with pytest.raises(BadInputError, match=r'expected \(8, 8, 1\)'):
        check_batch({'image': np.zeros((2, 8, 8), np.uint8)}, spec, 'digits8x8/test')


def test_all_checkpoints_corrupt_is_an_error_not_a_fresh_start(tmp_path):
    from models.core.checkpoint import CorruptCheckpointError

    config = load_config(f'{CONFIGS[0]}:smoke')
    train_and_evaluate(config, str(tmp_path))
    for step_dir in glob.glob(str(tmp_path / 'checkpoints' / '*')):
        for f in glob.glob(os.path.join(step_dir, '**', '*'), recursive=True):
            if os.path.isfile(f):
                os.remove(f)
    with pytest.raises(CorruptCheckpointError):
        train_and_evaluate(config, str(tmp_path))


def test_rerunning_a_finished_run_restores_and_reports(tmp_path):
    config = load_config(f'{CONFIGS[0]}:smoke')
    first = train_and_evaluate(config, str(tmp_path))
    again = train_and_evaluate(config, str(tmp_path))
    assert again == first
    extended = load_config(f'{CONFIGS[0]}:smoke')
    extended.train.steps = config.train.steps + 5  # a longer run continues from the last step
    train_and_evaluate(extended, str(tmp_path))
    assert os.path.isdir(tmp_path / 'checkpoints' / str(extended.train.steps))


def test_relative_workdir_as_in_the_readme(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(f'{CONFIGS[0]}:smoke')
    train_and_evaluate(config, 'runs/demo')
    assert os.path.isdir(tmp_path / 'runs' / 'demo' / 'checkpoints' / str(config.train.steps))


def test_another_models_checkpoints_are_refused_naming_both(tmp_path):
    from models.core.run_identity import IncompatibleCheckpointError

    config = load_config(f'{CONFIGS[0]}:smoke')
    train_and_evaluate(config, str(tmp_path))
    before = sorted(os.listdir(tmp_path / 'checkpoints'))
    config.model_kw = {'tie_positions': True}  # different parameter shapes, same workdir
    with pytest.raises(
        IncompatibleCheckpointError,
        match=r'another model.*model_kw: \{\} there, '
        r"\{'tie_positions': True\} here.*new --workdir",
    ):
        train_and_evaluate(config, str(tmp_path))
    assert sorted(os.listdir(tmp_path / 'checkpoints')) == before  # nothing renamed or written


def test_report_puts_expected_next_to_measured(tmp_path):
    from experiments import report

    config = load_config(f'{CONFIGS[0]}:smoke')
    final = train_and_evaluate(config, str(tmp_path / 'demo'))
    table = report.main([str(tmp_path / 'demo')])
    assert (
        f'| test/bpd | {config.expected["test/bpd"]} | {final["test/bpd"]:.4g} (step 20) |' in table
    )


def test_baseline_adapts_to_any_discrete_dataset(tmp_path):
    config = load_config(f'{CONFIGS[0]}:smoke')
    config.data.name = 'image_patches32'  # 32x32x3 with 256 levels, not the digits' 8x8x1 / 17
    trainer = Trainer(config, str(tmp_path))
    trainer.close()
    assert trainer.spec.shape == (32, 32, 3) and trainer.spec.num_levels == 256
