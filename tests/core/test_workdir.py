"""A workdir is never damaged: one writer at a time, no silent overwrite by a shorter or foreign
run, evaluation and samples survive a kill, a clean metrics log, and clear errors before compiling.
The command-line tests run the real entry point where the defect would live."""

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

from experiments.run import load_config
from models.core.loop import train_and_evaluate
from tests.core import subprocess_runs as sp
from tests.core.test_config import CONFIGS

SMOKE = f'{sp.BASELINE}:smoke'


def _cli(workdir, *overrides, config=SMOKE):
    cmd = sp.command(str(workdir), *overrides, config=config)
    return subprocess.run(
        cmd, cwd=sp.ROOT, env=sp.env(), capture_output=True, text=True, timeout=300
    )


def _tree_digest(root) -> dict[str, str]:
    digests = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                digests[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digests


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    """A finished smoke run of the baseline (20 steps), made once through the command line."""
    workdir = tmp_path_factory.mktemp('finished') / 'run'
    result = _cli(workdir)
    assert result.returncode == 0, result.stderr
    return workdir


def test_a_second_run_on_a_live_workdir_is_refused_naming_the_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys, time\n'
         'from models.core.workdir import WorkdirLock\n'
         'WorkdirLock(sys.argv[1]).acquire(); print("locked", flush=True); time.sleep(600)',
         str(tmp_path)],
        cwd=sp.ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == 'locked'
        refused = _cli(tmp_path)
        assert refused.returncode != 0
        assert f'in use by another run (pid {holder.pid} on' in refused.stderr
        assert 'Traceback' not in refused.stderr  # one clear line
        assert not os.path.exists(tmp_path / 'metrics.jsonl')
    finally:
        holder.kill()
        holder.wait()
    # The holder died without releasing: its lock went with it, and a rerun goes through.
    assert _cli(tmp_path).returncode == 0


def test_a_shorter_rerun_leaves_a_finished_workdir_untouched(finished):
    before = _tree_digest(finished)
    refused = _cli(finished, '--config.train.steps=10')
    assert refused.returncode != 0
    assert 'holds a run at step 20, beyond config.train.steps=10' in refused.stderr
    assert _tree_digest(finished) == before


def test_a_foreign_model_is_refused_and_the_workdir_left_byte_for_byte(finished):
    before = _tree_digest(finished)
    refused = _cli(finished, '--config.model_kw.tie_positions=true')
    assert refused.returncode != 0
    assert 'belong to another model' in refused.stderr and 'tie_positions' in refused.stderr
    assert _tree_digest(finished) == before  # config.json included


def test_unusable_workdir_and_unknown_variant_fail_at_once_with_one_line(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a directory')
    start = time.perf_counter()
    for workdir, message in ((blocker, 'is not a directory'), (blocker / 'sub', 'not writable')):
        result = _cli(workdir)
        assert result.returncode != 0 and message in result.stderr, result.stderr
        assert 'Traceback' not in result.stderr
    variant = _cli(tmp_path / 'v', config=f'{sp.BASELINE}:smok')
    assert variant.returncode != 0 and "no variant 'smok'" in variant.stderr
    data_dir = _cli(tmp_path / 'd', f'--config.data.data_dir={blocker}/tfds')
    assert data_dir.returncode != 0 and 'Traceback' not in data_dir.stderr
    assert f'config.data.data_dir={blocker}/tfds' in data_dir.stderr
    assert time.perf_counter() - start < 60  # refused before anything compiled


def test_a_kill_during_evaluation_loses_neither_the_evaluation_nor_the_samples(tmp_path):
    marker = tmp_path / 'crash_once'
    marker.write_text('')
    config = load_config(f'{CONFIGS[0]}:smoke')
    config.model = 'tests.core.toy_families'
    config.model_kw = {'kind': 'fragile_eval', 'crash_marker': str(marker)}
    config.train.update(steps=20, log_every=5, checkpoint_every=5, eval_every=10, sample_every=10)
    workdir = tmp_path / 'run'
    with pytest.raises(RuntimeError, match='simulated kill'):
        train_and_evaluate(config, str(workdir))
    assert sorted(os.listdir(workdir / 'checkpoints')) == ['5']  # step 10 was not saved yet
    train_and_evaluate(config, str(workdir))
    lines = [json.loads(line) for line in open(workdir / 'metrics.jsonl')]
    tests = [line['step'] for line in lines if 'test/rows' in line]
    assert tests == [10, 20]
    logs = [line['step'] for line in lines if 'model/loss' in line]
    assert logs == [5, 10, 15, 20]  # the resumed log reads as if the run had never stopped
    assert os.path.exists(workdir / 'samples' / 'step_00000010.png')


def test_a_finished_run_far_from_its_expected_number_is_flagged(tmp_path, capsys):
    config = load_config(f'{CONFIGS[0]}:smoke')
    config.optim.model.lr = 1e6
    train_and_evaluate(config, str(tmp_path))
    out = capsys.readouterr().out
    assert 'WARNING: test/bpd' in out and 'from the expected 2.435' in out
    from experiments import report

    assert 'FAR FROM EXPECTED' in report.main([str(tmp_path)])
