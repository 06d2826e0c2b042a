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
from models.core import images, run_identity
from models.core import mesh as mesh_lib
from models.core import workdir as workdir_lib
from models.core.cold import cold_jit
from models.core.config import validate
from models.core.family import Family, make_family
from models.core.metrics import (
    DEFAULT_TOLERANCE,
    MetricWriter,
    against_expected,
    bits_per_dim,
    summarize,
)
from models.core.optim import make_optimizers
from models.core.preemption import Preempted, PreemptionWatch
from models.core.run_inputs import RunInputs
from models.core.step import eval_variables, make_eval_step, make_init, make_train_step
from models.data import eval_batches

log = logging.getLogger(__name__)
MAX_STEPS_IN_FLIGHT = 2


class NonFiniteLossError(FloatingPointError):
    pass


def _num_dims(spec) -> int:
    return int(math.prod(spec.shape))


class Trainer:
    """Everything compiled for one config; `run()` trains, `evaluate()` and `sample()` reuse it.

    `read_only=True` opens a workdir for the commands over a finished run (experiments/sample.py,
    evaluate.py, ...): no lock is taken, nothing is written, the train step is not compiled, and
    the checkpoints' identity is the caller's to check (`experiments/finished_run.py`, which
    allows evaluating on another compatible dataset). `run()` is refused then.
    """

    def __init__(self, config: ml_collections.ConfigDict, workdir: str, read_only: bool = False):
        validate(config)
        self.config = config
        self.read_only = read_only
        self.workdir = os.path.abspath(workdir) if '://' not in workdir else workdir
        self.is_main = jax.process_index() == 0
        self._lock = None
        self.checkpointer = None
        try:
            self._claim_workdir()
            self._build()
        except BaseException:
            self.close()
            raise

    def _claim_workdir(self) -> None:
        """Before anything is compiled or written: a usable workdir, owned by this run alone, whose
        checkpoints (if any) are this model's and not beyond this run's last step."""
        if self.read_only:
            self.checkpointer = checkpoint_lib.Checkpointer(
                os.path.join(self.workdir, 'checkpoints'), keep=self.config.train.keep_checkpoints
            )
            return
        if self.is_main:
            workdir_lib.prepare(self.workdir)
            self._lock = workdir_lib.WorkdirLock(self.workdir)
            self._lock.acquire()
        self.checkpointer = checkpoint_lib.Checkpointer(
            os.path.join(self.workdir, 'checkpoints'), keep=self.config.train.keep_checkpoints
        )
        self._check_identity()
        latest = self.checkpointer.latest_step()
        if latest is not None and latest > self.config.train.steps:
            raise workdir_lib.WorkdirError(
                f'{self.workdir} holds a run at step {latest}, beyond config.train.steps='
                f'{self.config.train.steps}; it is left as it is. Use another --workdir, or set '
                'train.steps to at least that step to continue it.'
            )

    def close(self) -> None:
        """Waits for pending checkpoints and gives the workdir up."""
        try:
            if self.checkpointer is not None:
                self.checkpointer.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _build(self) -> None:
        config = self.config
        self.mesh = mesh_lib.make_mesh(config.mesh.num_devices)
        log.info(
            'mesh: %d %s device(s) over %d process(es)',
            self.mesh.devices.size,
            jax.default_backend(),
            jax.process_count(),
        )
        self.replicated = mesh_lib.replicated(self.mesh)
        self.data_sharded = mesh_lib.data_sharded(self.mesh)
        if config.data.name:
            mesh_lib.check_batch_size(config.train.batch_size, self.mesh)
            mesh_lib.check_batch_size(config.eval.batch_size, self.mesh, 'config.eval.batch_size')
        for name, aux in config.data.aux.items():
            mesh_lib.check_batch_size(
                aux.batch_size, self.mesh, f'config.data.aux.{name}.batch_size'
            )

        self.inputs = self._open_data()
        self.spec = self.inputs.spec
        self.family: Family = make_family(
            config.model,
            {**config.model_kw.to_dict(), **config.eval.model_kw.to_dict()},
            self.spec,
            self.inputs.aux_specs,
        )
        self.players = tuple(config.optim.keys())
        optimizers = make_optimizers(config.optim, config.train.steps)
        ema_decays = {p: float(o.ema_decay) for p, o in config.optim.items()}
        host_first = self.inputs[0]
        self._first_batch = (
            None if host_first is None else mesh_lib.global_batch(host_first, self.mesh)
        )

        self._init = make_init(self.family, optimizers, ema_decays)
        self._rng = jax.random.PRNGKey(config.train.seed)
        abstract = jax.eval_shape(self._init, self._rng, self._first_batch)
        self.state_shardings = self._state_shardings(abstract)
        self.abstract_state = jax.tree.map(
            lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
            abstract,
            self.state_shardings,
        )
        batch_abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), self._first_batch
        )
        step_fn = make_train_step(self.family, optimizers, ema_decays, config.train.on_nonfinite)
        # Compiled once, before the loop: a shape or sharding problem surfaces here, not at step N.
        self.train_step = (
            None
            if self.read_only
            else (
                jax.jit(
                    step_fn,
                    in_shardings=(self.state_shardings, self.data_sharded),
                    out_shardings=(self.state_shardings, self.replicated),
                    donate_argnums=0,
                )
                .lower(self.abstract_state, batch_abstract)
                .compile()
            )
        )
        self._eval_step = None
        if self.family.log_prob is not None:
            if self.inputs.eval_source is None:
                raise ValueError(f'{config.model} has a log_prob but config.data.name is empty')
            self._eval_step = jax.jit(make_eval_step(self.family), out_shardings=self.replicated)
        self._eval_outputs = None
        if self.family.evaluation is not None:
            self._eval_outputs = jax.jit(self.family.evaluation.outputs)
        # Samples are split over the devices like a batch: each device draws its share.
        self._sample = jax.jit(
            self.family.sample, static_argnums=2, out_shardings=self.data_sharded
        )

    def _state_shardings(self, abstract: dict[str, Any]) -> dict[str, Any]:
        """Replicated, except loop-state leaves the family splits over the data axis."""
        shardings = jax.tree.map(lambda _: self.replicated, abstract)
        if self.family.state_sharding is None:
            return shardings
        marks = self.family.state_sharding(abstract['state'])
        devices = self.mesh.devices.size

        def leaf(mark, a):
            if not mark:
                return self.replicated
            if a.ndim == 0 or a.shape[0] % devices:
                raise ValueError(
                    f'{self.config.model}: a loop-state leaf of shape {a.shape} is marked to be '
                    f'split over the data axis, but its leading axis is not a multiple of the '
                    f'{devices} devices'
                )
            return self.data_sharded

        shardings['state'] = jax.tree.map(leaf, marks, abstract['state'])
        return shardings

    def _open_data(self) -> RunInputs:
        """Opens every source; process 0 first, so hosts sharing a data_dir never build at once."""

        def open_all():
            return RunInputs(
                self.config.data, self.config.train.batch_size, self.config.eval.batch_size
            )

        if jax.process_count() == 1:
            return open_all()
        from jax.experimental import multihost_utils

        opened = open_all() if self.is_main else None
        multihost_utils.sync_global_devices('datasets prepared')
        return opened or open_all()

    # -- state ---------------------------------------------------------------------------------

    def initial_state(self) -> dict[str, Any]:
        """Restores the newest good checkpoint, or initialises (data-dependently) from batch 0."""
        try:
            restored = self.checkpointer.restore(self.abstract_state)
        except checkpoint_lib.CorruptCheckpointError as e:
            raise checkpoint_lib.CorruptCheckpointError(
                e.directory,
                e.failures,
                hint='If the optimizer or EMA settings changed since these checkpoints were '
                'written, their state no longer fits: use a new --workdir.',
            ) from e
        if restored is not None:
            state, meta, step = restored
            log.info('restored checkpoint at step %d from %s', step, self.workdir)
            self._warn_config_changes(meta.get('config', {}))
            return state
        init = cold_jit(self._init, out_shardings=self.state_shardings)  # runs once: compile fast
        return init(self._rng, self._first_batch)

    def _check_identity(self) -> None:
        """Another format's or another model's checkpoints are refused before anything is read."""
        for step in reversed(self.checkpointer.all_steps()):
            meta = self.checkpointer.read_meta(step)
            if meta is not None:  # an unreadable meta is the corrupt-checkpoint fallback's case
                run_identity.check_compatible(meta, self.config, self.workdir)
                return

    def _warn_config_changes(self, saved: dict[str, Any]) -> None:
        now = json.loads(self.config.to_json())
        for section in ('data', 'optim', 'train'):
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
            kept = (
                f'The last good checkpoint (step {latest}) in {self.workdir} is intact.'
                if latest is not None
                else 'No checkpoint was written before it.'
            )
            raise NonFiniteLossError(
                f'non-finite loss or gradient at step {first_bad}; training stopped. {kept} Set '
                "config.train.on_nonfinite='skip' to skip such steps instead."
            )

    def save(self, state, step: int, force: bool = False) -> None:
        self._check_finite(state)
        meta = {
            **run_identity.meta_fields(self.config),
            'config': json.loads(self.config.to_json()),
            'data_position': int(step),  # batch index the next step reads
            'process_count': jax.process_count(),
        }
        self.checkpointer.save(step, state, meta, force=force)

    # -- evaluation ------------------------------------------------------------------------------

    def eval_key(self, step: int, batch_index: int) -> jax.Array:
        """The key of test batch `batch_index` at `step`: independent of devices and processes."""
        base = jax.random.fold_in(jax.random.PRNGKey(self.config.train.seed + 2), step)
        return jax.random.fold_in(base, batch_index)

    def evaluate(self, state, step: int | None = None) -> dict[str, float]:
        """The test split's likelihood bounds (families with `log_prob`) and the family's own
        metrics. `step` picks the evaluation keys (default: the state's step)."""
        if self._eval_step is None and self._eval_outputs is None:
            return {}
        if step is None:
            step = int(mesh_lib.to_host(state['step']))
        variables = eval_variables(state, self.config.eval.use_ema)
        totals = None
        outputs: list[dict[str, np.ndarray]] = []
        for i, (batch, mask) in enumerate(self._eval_batches()):
            key = self.eval_key(step, i)
            if self._eval_step is not None:
                out = self._eval_step(variables, batch, mask, key)
                totals = out if totals is None else jax.tree.map(lambda a, b: a + b, totals, out)
            if self._eval_outputs is not None:
                rows = self._eval_outputs(variables, batch, key)
                if mask is None:
                    outputs.append(mesh_lib.to_host(rows))
                    continue
                rows, real = mesh_lib.to_host((rows, mask))
                outputs.append({k: v[real > 0] for k, v in rows.items()})
        result = {}
        if totals is not None:
            result.update(self._likelihood(mesh_lib.to_host(totals)))
        if outputs:
            gathered = {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}
            result.update(self.family.evaluation.summarize(gathered))
        return result

    def _eval_batches(self):
        """(global batch, global mask) pairs of the test split; (None, None) rounds without one."""
        max_batches = self.config.eval.max_batches
        if self.inputs.eval_source is None:
            yield from ((None, None) for _ in range(max(1, max_batches)))
            return
        batches = eval_batches(
            self.inputs.eval_source,
            self.config.eval.batch_size,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        )
        for i, (local, mask) in enumerate(batches):
            if max_batches and i >= max_batches:
                break
            batch = mesh_lib.global_batch({**local, '__mask__': mask}, self.mesh)
            yield batch, batch.pop('__mask__')

    def _likelihood(self, totals) -> dict[str, float]:
        """test/nll and test/bpd for the headline bound; test/<name>_nll, _bpd for the others."""
        count = float(totals['count'])
        result = {'test/count': count}
        names = sorted({k.split('/')[0] for k in totals if k != 'count'})
        for name in names:
            prefix = 'test/' if name == 'log_prob' else f'test/{name}_'
            nll = -float(totals[f'{name}/sum']) / count
            result[f'{prefix}nll'] = nll
            if totals[f'{name}/nonfinite']:
                result[f'{prefix}nonfinite'] = float(totals[f'{name}/nonfinite'])
            if self.spec.num_levels is not None:
                result[f'{prefix}bpd'] = bits_per_dim(nll, _num_dims(self.spec))
        return result

    def sample(self, state, num: int, seed: int = 0) -> Any:
        """`num` samples on every process (rounded up to a multiple of the device count)."""
        devices = self.mesh.devices.size
        padded = -(-num // devices) * devices
        variables = eval_variables(state, self.config.eval.use_ema)
        rng = jax.random.fold_in(jax.random.PRNGKey(self.config.train.seed + 1), seed)
        samples = mesh_lib.to_host(self._sample(variables, rng, padded))
        return jax.tree.map(lambda x: x[:num], samples)

    def write_samples(self, state, step: int) -> str | None:
        samples = self.sample(state, self.config.eval.num_samples, seed=step)
        if not self.is_main:
            return None
        os.makedirs(os.path.join(self.workdir, 'samples'), exist_ok=True)
        path = os.path.join(self.workdir, 'samples', f'step_{step:08d}.png')
        if self.family.render is not None:
            self.family.render(path, samples)
        else:
            images.save_samples(path, samples, self.spec.num_levels if self.spec else None)
        return path

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, float]:
        """Trains to config.train.steps from the newest checkpoint (or from init), then evaluates.

        At a step that is due for several things the order is: log, evaluate, sample, checkpoint.
        A run killed before checkpoint N resumes from an earlier one and redoes step N's
        evaluation and samples, and the metrics log (and TensorBoard) are cut back to the restored
        step, so a resumed run's record reads as if it had never stopped.
        """
        if self.read_only:
            raise RuntimeError('a read-only Trainer does not train; open the workdir to train')
        config, train = self.config, self.config.train
        state = self.initial_state()
        start = int(mesh_lib.to_host(state['step']))
        total = train.steps
        if self.is_main:  # only now: a refused workdir keeps the config.json it had
            with open(os.path.join(self.workdir, 'config.json'), 'w') as f:
                f.write(config.to_json(indent=2))
        if start == total:  # a finished run, run again: report it, change nothing
            final = self.evaluate(state, total)
            if self.is_main:
                report(final, config.expected)
            return final
        writer = MetricWriter(self.workdir, enabled=self.is_main, resume_step=start)
        progress = tqdm.tqdm(
            total=total,
            initial=start,
            disable=not (self.is_main and train.progress),
            dynamic_ncols=True,
            desc=config.model,
        )
        history: list[dict[str, jax.Array]] = []
        in_flight: collections.deque = collections.deque()
        tick, tick_step = time.perf_counter(), start
        batches = None
        watch = PreemptionWatch()
        try:
            batches = self.inputs.iterate(start)
            for step in range(start, total):
                host_batch = next(batches)
                batch = None if host_batch is None else mesh_lib.global_batch(host_batch, self.mesh)
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
                    postfix = {'steps_s': f'{summary["steps_per_sec"]:.1f}'}
                    loss_key = f'{self.players[0]}/loss'  # absent from some families' own updates
                    if loss_key in summary:
                        postfix['loss'] = f'{summary[loss_key]:.4f}'
                    progress.set_postfix(postfix)
                progress.update(1)
                if done == total:
                    break
                if done % train.eval_every == 0:
                    writer.write(done, self.evaluate(state, done))
                if done % train.sample_every == 0:
                    self.write_samples(state, done)
                if train.checkpoint_every and done % train.checkpoint_every == 0:
                    self.save(state, done)
                if watch.should_stop(done):
                    if self.checkpointer.latest_step() != done:
                        self.save(state, done)
                    raise Preempted(done, self.workdir, watch.signal_name)
            final = self.evaluate(state, total)
            writer.write(total, final)
            self.write_samples(state, total)
            self.save(state, total)
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
    for key, value, got, far in against_expected(final, expected.to_dict()):
        print(f'{key}: expected {value} (config.expected) vs this run {got:.4f}')
        if far:
            tolerance = expected.get('tolerance', DEFAULT_TOLERANCE)
            print(
                f'WARNING: {key} is {got:.4g}, more than {tolerance:.0%} from the expected '
                f'{value}: the run may have diverged or be misconfigured'
            )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
    with Trainer(config, workdir) as trainer:
        return trainer.run()
