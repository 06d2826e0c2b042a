"""A run killed with SIGKILL and restarted with the same command ends bitwise equal to an
uninterrupted run: params, optimizer state, EMA, step, RNG and the data position all resume."""

import json
import os
import re
import signal
import subprocess
import time

import jax
import numpy as np

from experiments.run import parse_args
from models.core.loop import Trainer
from tests.core import subprocess_runs as sp

STEPS = 40
OVERRIDES = (
    '--config.model=tests.core.toy_families',
    "--config.model_kw.kind='slow_categorical'",
    f'--config.train.steps={STEPS}',
    '--config.train.checkpoint_every=5',
    '--config.train.log_every=5',
    '--config.train.eval_every=1000',
    '--config.train.sample_every=1000',
    '--config.train.keep_checkpoints=2',
    '--config.optim.model.ema_decay=0.9',
)


def _checkpoint_steps(workdir):
    path = os.path.join(workdir, 'checkpoints')
    if not os.path.isdir(path):
        return []
    return sorted(int(d) for d in os.listdir(path) if d.isdigit())


def _final_state(workdir):
    config, _, _ = parse_args(sp.command(workdir, *OVERRIDES)[3:])
    trainer = Trainer(config, workdir)
    try:
        state = trainer.initial_state()
        return jax.device_get(state)
    finally:
        trainer.close()


def test_sigkill_then_resume_is_bitwise_identical(tmp_path):
    straight, killed = str(tmp_path / 'straight'), str(tmp_path / 'killed')
    sp.run(straight, *OVERRIDES)

    proc = subprocess.Popen(
        sp.command(killed, *OVERRIDES),
        cwd=sp.ROOT,
        env=sp.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not any(s >= 15 for s in _checkpoint_steps(killed)):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    at_kill = _checkpoint_steps(killed)
    assert at_kill and max(at_kill) < STEPS, f'the kill must land mid-run, saw {at_kill}'

    resumed = sp.run(killed, *OVERRIDES)
    assert 'restored checkpoint at step' in resumed.stderr
    # The log of the killed and resumed run reads like the uninterrupted one: no step twice.
    steps = [[json.loads(line)['step'] for line in open(os.path.join(w, 'metrics.jsonl'))]
             for w in (straight, killed)]  # fmt: skip
    assert steps[0] == steps[1]

    a, b = _final_state(straight), _final_state(killed)
    assert int(a['step']) == int(b['step']) == STEPS
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a['ema']['model']['logits'], a['params']['model']['logits'])


def test_sigterm_saves_the_current_step_and_resumes_exactly(tmp_path):
    straight, stopped = str(tmp_path / 'straight'), str(tmp_path / 'stopped')
    sp.run(straight, *OVERRIDES)
    proc = subprocess.Popen(
        sp.command(stopped, *OVERRIDES), cwd=sp.ROOT, env=sp.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and not any(s >= 10 for s in _checkpoint_steps(stopped)):
        time.sleep(0.02)
    time.sleep(0.05)  # land between checkpoints
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    stopped_at = int(re.search(r'stopped by SIGTERM after step (\d+)', stderr).group(1))
    assert 10 <= stopped_at < STEPS
    assert max(_checkpoint_steps(stopped)) == stopped_at  # saved on SIGTERM, on grid or not

    sp.run(stopped, *OVERRIDES)
    a, b = _final_state(straight), _final_state(stopped)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_ctrl_c_saves_the_current_step_and_exits_130(tmp_path):
    stopped = str(tmp_path / 'stopped')
    proc = subprocess.Popen(
        sp.command(stopped, *OVERRIDES), cwd=sp.ROOT, env=sp.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and not any(s >= 10 for s in _checkpoint_steps(stopped)):
        time.sleep(0.02)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    stopped_at = int(re.search(r'stopped by SIGINT after step (\d+)', stderr).group(1))
    assert max(_checkpoint_steps(stopped)) == stopped_at
    assert 'Traceback' not in stderr
