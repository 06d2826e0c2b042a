"""experiments.sample and experiments.evaluate over a finished run: they reproduce the trainer's
own final samples and numbers, record what they measure, and refuse bad requests in one line."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

from experiments import evaluate, finished_run, sample
from tests.experiments import frequencies
from tests.experiments.refusals import refused as _refused


def test_sample_draws_the_trainers_final_grid(baseline_run, tmp_path):
    workdir, config, _ = baseline_run
    prefix = str(tmp_path / 'again')
    sample.main(['--workdir', workdir, '--num', str(config.eval.num_samples), '--out', prefix])
    final_png = os.path.join(workdir, 'samples', f'step_{config.train.steps:08d}.png')
    with open(prefix + '.png', 'rb') as a, open(final_png, 'rb') as b:
        assert a.read() == b.read()
    saved = np.load(prefix + '.npz')
    assert saved['samples'].shape == (config.eval.num_samples, 8, 8, 1)
    assert int(saved['step']) == config.train.steps


def test_sample_at_a_temperature_draws_the_tempered_conditionals(baseline_run, tmp_path):
    """The baseline's conditionals are its per-pixel softmax: at T the draws must follow
    softmax(log p / T), and must not follow the untempered p."""
    workdir, _, _ = baseline_run
    with finished_run.open_run(workdir, []) as run:
        table = np.asarray(jax.nn.log_softmax(run.variables().params['model']['logits'], -1))
    log_p = table.reshape(64, -1)
    prefix = str(tmp_path / 'hot')
    sample.main(['--workdir', workdir, '--num', '3000', '--temperature', '2', '--out', prefix])
    draws = np.load(prefix + '.npz')['samples'].reshape(3000, 64)
    frequencies.assert_follow(draws, np.asarray(jax.nn.softmax(log_p / 2.0, -1)))
    with pytest.raises(AssertionError):
        frequencies.assert_follow(draws, np.exp(log_p))


def test_sample_renders_points_of_a_family_without_images(toy_run, tmp_path):
    sample.main(['--workdir', toy_run, '--num', '16', '--out', str(tmp_path / 'p')])
    assert os.path.getsize(tmp_path / 'p.png') > 0
    assert np.load(tmp_path / 'p.npz')['samples'].shape == (16, 2)


def test_evaluate_reproduces_the_final_numbers_and_records_them(baseline_run):
    workdir, _, final = baseline_run
    got = evaluate.main(['--workdir', workdir])
    assert got == final  # the same keys, batches and params: bit for bit
    last = json.loads(open(os.path.join(workdir, 'metrics.jsonl')).readlines()[-1])
    assert last['evaluate/digits8x8/test/ema/bpd'] == final['test/bpd']


def test_evaluate_on_the_train_split_with_overrides(baseline_run):
    workdir, _, final = baseline_run
    got = evaluate.main(
        ['--workdir', workdir, '--split', 'train', '--params', 'raw', '--config.eval.batch_size=96']
    )
    assert got['test/count'] == 1437
    assert abs(got['test/bpd'] - final['test/bpd']) < 0.3  # the floor generalises
    last = json.loads(open(os.path.join(workdir, 'metrics.jsonl')).readlines()[-1])
    assert 'evaluate/digits8x8/train/raw/eval.batch_size=96/bpd' in last


def test_unfinished_and_foreign_workdirs_are_refused(baseline_run, tmp_path):
    workdir, config, _ = baseline_run
    assert 'no such directory' in _refused(sample.main, ['--workdir', str(tmp_path / 'none')])
    assert 'no config.json' in _refused(evaluate.main, ['--workdir', str(tmp_path)])
    bare = tmp_path / 'bare'
    bare.mkdir()
    shutil.copy(os.path.join(workdir, 'config.json'), bare)
    assert 'no checkpoint' in _refused(sample.main, ['--workdir', str(bare)])
    # The same run, told it should have gone on: its last checkpoint is not the end.
    longer = tmp_path / 'longer'
    shutil.copytree(workdir, longer)
    saved = json.load(open(longer / 'config.json'))
    saved['train']['steps'] = config.train.steps * 2
    json.dump(saved, open(longer / 'config.json', 'w'))
    assert 'not finished' in _refused(evaluate.main, ['--workdir', str(longer)])


def test_bad_requests_are_refused_before_compiling(baseline_run, toy_run):
    workdir, _, _ = baseline_run
    assert '--num must be positive' in _refused(sample.main, ['--workdir', workdir, '--num', '0'])
    changed = _refused(
        evaluate.main, ['--workdir', workdir, '--config.model_kw.tie_positions=true']
    )
    assert 'change the trained model' in changed and 'model_kw' in changed
    assert 'Unknown config key' in _refused(
        evaluate.main, ['--workdir', workdir, '--config.eval.nope=1']
    )
    assert 'Unknown split' in _refused(evaluate.main, ['--workdir', workdir, '--split', 'valid'])
    assert 'no test metrics' in _refused(evaluate.main, ['--workdir', toy_run])
    hot = _refused(sample.main, ['--workdir', toy_run, '--temperature', '0.5'])
    assert 'only at temperature 1' in hot
