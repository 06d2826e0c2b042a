"""Two processes joined by jax.distributed (CPU collectives over gloo, loopback only) train
together, and end where one process with the same global batch and device count ends."""

import subprocess

import jax
import numpy as np

from experiments.run import parse_args
from models.core.loop import Trainer
from tests.core import subprocess_runs as sp

OVERRIDES = (
    '--config.train.steps=3',
    '--config.train.batch_size=16',
    '--config.train.log_every=1',
    '--config.train.checkpoint_every=0',
    '--config.train.eval_every=1000',
    '--config.train.sample_every=1000',
    '--config.eval.batch_size=64',
    '--config.eval.max_batches=2',
    '--config.eval.num_samples=4',
    '--config.optim.model.ema_decay=0.9',
)


def _state(workdir):
    config, _, _ = parse_args(sp.command(workdir, *OVERRIDES)[3:])
    trainer = Trainer(config, workdir)
    try:
        return jax.device_get(trainer.initial_state())
    finally:
        trainer.close()


def test_two_processes_match_one(tmp_path):
    single, multi = str(tmp_path / 'single'), str(tmp_path / 'multi')
    sp.run(single, *OVERRIDES, num_devices=2)

    port = sp.free_port()
    procs = []
    for pid in range(2):
        args = sp.command(
            multi,
            *OVERRIDES,
            '--config.distributed.enabled=true',
            f'--config.distributed.coordinator_address=127.0.0.1:{port}',
            '--config.distributed.num_processes=2',
            f'--config.distributed.process_id={pid}',
        )
        procs.append(
            subprocess.Popen(
                args,
                cwd=sp.ROOT,
                env=sp.env(1),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out
    assert 'test bits/dim' in outputs[0]  # only process 0 reports
    assert 'test bits/dim' not in outputs[1]

    a, b = _state(single), _state(multi)
    assert int(a['step']) == int(b['step']) == 3
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    assert not np.allclose(a['params']['model']['logits'], a['ema']['model']['logits'])
