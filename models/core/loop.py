"""The training loop shared by every family: mesh, data, init or restore, then step / log /
checkpoint / evaluate / sample, and a final test evaluation.

It compiles the step once, ahead of the loop, and the only host round trips are at log,
checkpoint, eval and sample points.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import time
from typing import Any

import jax
import ml_collections
import numpy as np
import tqdm

from models.core import checkpoint as checkpoint_lib
from models.core import images
from models.core import mesh as mesh_lib
from models.core.cold import cold_jit
from models.core.config import validate
from models.core.family import Family, make_family
from models.core.inputs import check_batch
from models.core.metrics import MetricWriter, bits_per_dim, summarize
from models.core.optim import make_optimizers
from models.core.preemption import Preempted, PreemptionWatch
from models.core.step import eval_params, make_eval_step, make_init, make_train_step
from models.data import eval_batches, open_split
from models.data.loader import TrainBatches
from models.data.sources import gather

log = logging.getLogger(__name__)
MAX_STEPS_IN_FLIGHT = 2


class NonFiniteLossError(FloatingPointError):
    pass


def _with_sharding(abstract: Any, sharding: Any) -> Any:
    return jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), abstract
    )


def _num_dims(spec) -> int:
    return int(math.prod(spec.shape))


class Trainer:
    """Everything compiled for one config; `run()` trains, `evaluate()` and `sample()` reuse it."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: str):
        validate(config)
        self.config = config
        # Orbax needs absolute paths; a bucket URL (gs://...) is absolute already.
        self.workdir = workdir if '://' in workdir else os.path.abspath(workdir)
        self.is_main = jax.process_index() == 0
        self.mesh = mesh_lib.make_mesh(config.mesh.num_devices)
        log.info(
            'mesh: %d %s device(s) over %d process(es)',
            self.mesh.devices.size,
            jax.default_backend(),
            jax.process_count(),
        )
        mesh_lib.check_batch_size(config.train.batch_size, self.mesh)
        mesh_lib.check_batch_size(config.eval.batch_size, self.mesh, 'config.eval.batch_size')
        self.replicated = mesh_lib.replicated(self.mesh)

        self.train_source, self.spec, self.eval_source = self._open_data()
        self.family: Family = make_family(config.model, config.model_kw.to_dict(), self.spec)
        self.players = tuple(config.optim.keys())
        optimizers = make_optimizers(config.optim, config.train.steps)
        ema_decays = {p: float(o.ema_decay) for p, o in config.optim.items()}

        self.loader = TrainBatches(
            self.train_source,
            config.train.batch_size,
            seed=config.data.seed,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        )
        first = self.loader[0]
        check_batch(first, self.spec, f'{config.data.name}/{config.data.train_split}')
        head = np.arange(min(len(self.eval_source), config.eval.batch_size))
        check_batch(
            gather(self.eval_source, head),
            self.spec,
            f'{config.data.name}/{config.data.eval_split}',
        )
        self._first_batch = mesh_lib.global_batch(first, self.mesh)

        self._init = make_init(self.family, optimizers, ema_decays)
        self._rng = jax.random.PRNGKey(config.train.seed)
        abstract = jax.eval_shape(self._init, self._rng, self._first_batch)
        self.abstract_state = _with_sharding(abstract, self.replicated)
        batch_abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), self._first_batch
        )
        step_fn = make_train_step(self.family, optimizers, ema_decays, config.train.on_nonfinite)
        # Compiled once, before the loop: a shape or sharding problem surfaces here, not at step N.
        self.train_step = (
            jax.jit(
                step_fn,
                in_shardings=(self.replicated, mesh_lib.data_sharded(self.mesh)),
                out_shardings=(self.replicated, self.replicated),
                donate_argnums=0,
            )
            .lower(self.abstract_state, batch_abstract)
            .compile()
        )
        self._eval_step = None
        if self.family.log_prob is not None:
            self._eval_step = jax.jit(make_eval_step(self.family), out_shardings=self.replicated)
        self._eval_outputs = None
        if self.family.evaluation is not None:
            self._eval_outputs = jax.jit(self.family.evaluation.outputs)
        # Samples are split over the devices like a batch: each device draws its share.
        self._sample = jax.jit(
            self.family.sample, static_argnums=2, out_shardings=mesh_lib.data_sharded(self.mesh)
        )
        self.checkpointer = checkpoint_lib.Checkpointer(
            os.path.join(self.workdir, 'checkpoints'), keep=config.train.keep_checkpoints
        )

    def _open_data(self):
        """Opens both splits; process 0 first, so hosts sharing a data_dir never build at once."""
        data = self.config.data
        data_dir = data.data_dir or None

        def open_both():
            train, spec = open_split(data.name, data.train_split, data_dir, cache=data.cache)
            test, _ = open_split(data.name, data.eval_split, data_dir, cache=data.cache)
            return train, spec, test

        if jax.process_count() == 1:
            return open_both()
        from jax.experimental import multihost_utils

        opened = open_both() if self.is_main else None
        multihost_utils.sync_global_devices('datasets prepared')
        return opened or open_both()

    # -- state ---------------------------------------------------------------------------------

    def initial_state(self) -> dict[str, Any]:
        """Restores the newest good checkpoint, or initialises (data-dependently) from batch 0."""
        try:
            restored = self.checkpointer.restore(self.abstract_state)
        except checkpoint_lib.CorruptCheckpointError as e:
            raise checkpoint_lib.CorruptCheckpointError(
                e.directory,
                e.failures,
                hint='If the model, optimizer or EMA settings changed since these checkpoints were '
                'written, their state no longer fits: use a new --workdir.',
            ) from e
        if restored is not None:
            state, meta, step = restored
            log.info('restored checkpoint at step %d from %s', step, self.workdir)
            self._warn_config_changes(meta.get('config', {}))
            return state
        init = cold_jit(self._init, out_shardings=self.replicated)  # runs once: compile fast
        return init(self._rng, self._first_batch)

    def _warn_config_changes(self, saved: dict[str, Any]) -> None:
        now = json.loads(self.config.to_json())
        for section in ('model', 'model_kw', 'data', 'optim'):
            if section in saved and saved[section] != now.get(section):
                log.warning(
                    "config.%s differs from the checkpoint's: %s -> %s",
                    section,
                    saved[section],
                    now.get(section),
                )

    def _check_finite(self, state) -> None:
        first_bad = int(mesh_lib.to_host(state['nonfinite']['first_bad_step']))
        if first_bad >= 0:
            latest = self.checkpointer.latest_step()
            raise NonFiniteLossError(
                f'non-finite loss or gradient at step {first_bad}; training stopped. The last good '
                f'checkpoint (step {latest}) in {self.workdir} is intact. Set '
                "config.train.on_nonfinite='skip' to skip such steps instead."
            )

    def save(self, state, step: int, force: bool = False) -> None:
        self._check_finite(state)
        meta = {
            'config': json.loads(self.config.to_json()),
            'data_position': int(step),  # batch index the next step reads
            'process_count': jax.process_count(),
        }
        self.checkpointer.save(step, state, meta, force=force)

    # -- evaluation ------------------------------------------------------------------------------

    def evaluate(self, state) -> dict[str, float]:
        """The test split's likelihood (families with `log_prob`) and the family's own metrics."""
        if self._eval_step is None and self._eval_outputs is None:
            return {}
        params = eval_params(state, self.config.eval.use_ema)
        totals = None
        outputs: list[dict[str, np.ndarray]] = []
        eval_rng = jax.random.PRNGKey(self.config.train.seed + 2)
        batches = eval_batches(
            self.eval_source,
            self.config.eval.batch_size,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        )
        for i, (local, mask) in enumerate(batches):
            if self.config.eval.max_batches and i >= self.config.eval.max_batches:
                break
            batch = mesh_lib.global_batch({**local, '__mask__': mask}, self.mesh)
            mask_global = batch.pop('__mask__')
            if self._eval_step is not None:
                out = self._eval_step(params, batch, mask_global)
                totals = out if totals is None else jax.tree.map(lambda a, b: a + b, totals, out)
            if self._eval_outputs is not None:
                rows = self._eval_outputs(params, batch, jax.random.fold_in(eval_rng, i))
                rows, real = mesh_lib.to_host((rows, mask_global))
                outputs.append({k: v[real > 0] for k, v in rows.items()})
        result = {}
        if totals is not None:
            result.update(self._likelihood(mesh_lib.to_host(totals)))
        if outputs:
            gathered = {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}
            result.update(self.family.evaluation.summarize(gathered))
        return result

    def _likelihood(self, totals) -> dict[str, float]:
        count = float(totals['count'])
        nll = -float(totals['log_prob_sum']) / count
        result = {'test/nll': nll, 'test/count': count}
        if totals['nonfinite']:
            result['test/nonfinite'] = float(totals['nonfinite'])
        if self.spec.num_levels is not None:
            result['test/bpd'] = bits_per_dim(nll, _num_dims(self.spec))
        return result

    def sample(self, state, num: int, seed: int = 0) -> np.ndarray:
        """`num` samples on every process (rounded up to a multiple of the device count)."""
        devices = self.mesh.devices.size
        padded = -(-num // devices) * devices
        params = eval_params(state, self.config.eval.use_ema)
        rng = jax.random.fold_in(jax.random.PRNGKey(self.config.train.seed + 1), seed)
        return mesh_lib.to_host(self._sample(params, rng, padded))[:num]

    def write_samples(self, state, step: int) -> str | None:
        samples = self.sample(state, self.config.eval.num_samples, seed=step)
        if not self.is_main:
            return None
        os.makedirs(os.path.join(self.workdir, 'samples'), exist_ok=True)
        path = os.path.join(self.workdir, 'samples', f'step_{step:08d}.png')
        images.save_samples(path, samples, self.spec.num_levels)
        return path

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, float]:
        config, train = self.config, self.config.train
        if self.is_main:
            os.makedirs(self.workdir, exist_ok=True)
            with open(os.path.join(self.workdir, 'config.json'), 'w') as f:
                f.write(config.to_json(indent=2))
        writer = MetricWriter(self.workdir, enabled=self.is_main)
        state = self.initial_state()
        start = int(mesh_lib.to_host(state['step']))
        total = train.steps
        progress = tqdm.tqdm(
            total=total,
            initial=start,
            disable=not (self.is_main and train.progress),
            dynamic_ncols=True,
            desc=config.model,
        )
        history: list[dict[str, jax.Array]] = []
        in_flight: collections.deque = collections.deque()
        final: dict[str, float] = {}
        tick, tick_step = time.perf_counter(), start
        batches = None
        watch = PreemptionWatch()
        try:
            batches = self.loader.iterate(start)
            for step in range(start, total):
                batch = mesh_lib.global_batch(next(batches), self.mesh)
                state, metrics = self.train_step(state, batch)
                history.append(metrics)
                in_flight.append(metrics)
                if len(in_flight) > MAX_STEPS_IN_FLIGHT:
                    # Bounded asynchronous dispatch: the host may run ahead by a few steps (to
                    # overlap data loading), not by hundreds, which on CPU devices starves XLA's
                    # collective rendezvous and holds every queued batch in memory.
                    jax.block_until_ready(in_flight.popleft())
                done = step + 1
                if done % train.log_every == 0 or done == total:
                    summary = summarize(mesh_lib.to_host(history))
                    history = []
                    now = time.perf_counter()
                    summary['steps_per_sec'] = (done - tick_step) / max(now - tick, 1e-9)
                    tick, tick_step = now, done
                    if summary.get('nonfinite/first_bad_step', -1) >= 0:
                        self._check_finite(state)
                    writer.write(done, summary)
                    loss_key = f'{self.players[0]}/loss'
                    progress.set_postfix(
                        loss=f'{summary[loss_key]:.4f}', steps_s=f'{summary["steps_per_sec"]:.1f}'
                    )
                progress.update(1)
                if train.checkpoint_every and done % train.checkpoint_every == 0 and done < total:
                    self.save(state, done)
                if done % train.eval_every == 0 and done < total:
                    writer.write(done, self.evaluate(state))
                if done % train.sample_every == 0 and done < total:
                    self.write_samples(state, done)
                if done < total and watch.should_stop(done):
                    if self.checkpointer.latest_step() != done:
                        self.save(state, done)
                    raise Preempted(done, self.workdir)
            if self.checkpointer.latest_step() != total:  # a finished run, re-run, saves nothing
                self.save(state, total, force=True)
            final = self.evaluate(state)
            writer.write(total, final)
            self.write_samples(state, total)
        finally:
            watch.close()
            if batches is not None:
                batches.close()
            progress.close()
            self.checkpointer.wait()
            writer.close()
        if self.is_main:
            report(final, config.expected)
        return final


def report(final: dict[str, float], expected: ml_collections.ConfigDict) -> None:
    """Prints the final test metrics next to the paper's (or measured) numbers."""
    if 'test/bpd' in final:
        print(f'test bits/dim: {final["test/bpd"]:.4f}')
    if 'test/nll' in final:
        print(f'test nll (nats/example): {final["test/nll"]:.4f}')
    for key, value in expected.items():
        if isinstance(value, (int, float)) and key in final:
            print(f'{key}: expected {value} (config.expected) vs this run {final[key]:.4f}')


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
    trainer = Trainer(config, workdir)
    try:
        return trainer.run()
    finally:
        trainer.checkpointer.close()
