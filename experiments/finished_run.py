"""Opening a finished run's workdir for the commands that use it (sample, evaluate, complete...).

Every command reads the config the run saved (`<workdir>/config.json`, written by the trainer),
applies the user's `--config.a.b=v` overrides on top of it (evaluation keys, another split or a
compatible dataset), and restores the final checkpoint through the trainer's own pieces (a
read-only `Trainer`: the same data, family, evaluation keys and sampler, no train step compiled).

Refusals are one line, before anything is compiled: a directory that is no workdir, a run that is
not finished, an override that changes the model, a dataset of another shape, a family that lacks
what the command needs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import ml_collections

from experiments.run import apply_overrides
from models.core import run_identity
from models.core.config import (
    AUX_SOURCE,
    FREE_SECTIONS,
    OPTIMIZER,
    ConfigError,
    defaults,
)

# Overrides that may differ from the checkpoint's identity: the dataset evaluated on.
_DATA_KEYS = ('data',)


class RunError(ValueError):
    """The workdir or the request cannot be served; the message is the whole story."""


def _merge(base: ml_collections.ConfigDict, saved: dict[str, Any], prefix: str = '') -> None:
    """Writes `saved` over `base`; keys added to the defaults since the run keep their defaults."""
    for key, value in saved.items():
        path = f'{prefix}{key}'
        if path in FREE_SECTIONS:
            if path == 'optim':
                section = {p: {**OPTIMIZER.to_dict(), **o} for p, o in value.items()}
            elif path == 'data.aux':
                section = {n: {**AUX_SOURCE.to_dict(), **a} for n, a in value.items()}
            else:
                section = value
            base[key] = ml_collections.ConfigDict(section)
        elif isinstance(value, dict) and isinstance(base.get(key), ml_collections.ConfigDict):
            _merge(base[key], value, f'{path}.')
        else:
            base[key] = value


def saved_config(workdir: str) -> ml_collections.ConfigDict:
    """The config `experiments.run` saved in `workdir`, over today's defaults."""
    path = os.path.join(workdir, 'config.json')
    if not os.path.isdir(workdir):
        raise RunError(f'--workdir {workdir}: no such directory')
    if not os.path.exists(path):
        raise RunError(
            f'--workdir {workdir} has no config.json: it is not a workdir of experiments.run '
            '(train one first: python -m experiments.run --config FILE --workdir DIR)'
        )
    with open(path) as f:
        saved = json.load(f)
    config = defaults()
    _merge(config, saved)
    return config


def with_overrides(config: ml_collections.ConfigDict, overrides: list[str]):
    """A copy of `config` with `--config.a.b=v` (or `--config.a.b v`) overrides, validated."""
    config = ml_collections.ConfigDict(config.to_dict())
    apply_overrides(config, overrides)
    return config


def _checkpoint_steps(workdir: str) -> list[int]:
    root = os.path.join(workdir, 'checkpoints')
    if not os.path.isdir(root):
        return []
    return sorted(int(n) for n in os.listdir(root) if n.isdigit())


def check_finished(workdir: str, config: ml_collections.ConfigDict) -> int:
    """The final step, when `workdir` holds the checkpoint of its run's last step."""
    steps = _checkpoint_steps(workdir)
    total = config.train.steps
    if not steps:
        raise RunError(
            f'--workdir {workdir} has no checkpoint: the run never saved one. Finish it with '
            'python -m experiments.run (same --config and --workdir) first.'
        )
    if steps[-1] < total:
        raise RunError(
            f'--workdir {workdir} is at step {steps[-1]} of {total}: not finished. Run '
            'python -m experiments.run with the same --config and --workdir to finish it.'
        )
    return steps[-1]


def check_same_model(saved: ml_collections.ConfigDict, config: ml_collections.ConfigDict) -> None:
    """Overrides may change evaluation and data, never what the checkpoint's parameters mean."""
    theirs, ours = run_identity.identity(saved), run_identity.identity(config)
    changed = sorted(k for k in theirs if k not in _DATA_KEYS and theirs[k] != ours.get(k))
    if changed:
        details = '; '.join(f'{k}: {theirs[k]!r} -> {ours.get(k)!r}' for k in changed)
        raise RunError(
            f'the overrides change the trained model ({details}); a finished run can be '
            'evaluated on other data or settings, not turned into another model'
        )


class FinishedRun:
    """A finished workdir, restored: `trainer` (read-only), `state`, `step`, `config`."""

    def __init__(self, workdir: str, config, saved, step: int, require=None):
        from models.core.loop import Trainer

        self.workdir = workdir
        self.config = config
        self.saved = saved
        self.step = step
        self.trainer = Trainer(config, workdir, read_only=True)
        try:
            self._check_data()
            if require is not None:
                require(self.trainer.family, self.trainer.spec)
            restored = self.trainer.checkpointer.restore(self.trainer.abstract_state, step)
            if restored is None:
                raise RunError(f'--workdir {workdir}: checkpoint {step} could not be restored')
            self.state = restored[0]
        except BaseException:
            self.trainer.close()
            raise

    @property
    def family(self):
        return self.trainer.family

    @property
    def spec(self):
        return self.trainer.spec

    def _check_data(self) -> None:
        """Another dataset must look like the one the model was trained on."""
        if self.config.data.name == self.saved.data.name:
            return
        from models.data import open_split

        _, trained = open_split(
            self.saved.data.name, self.saved.data.train_split, self.saved.data.data_dir or None
        )
        now = self.trainer.spec
        if (trained.shape, trained.num_levels, trained.key) != (now.shape, now.num_levels, now.key):
            raise RunError(
                f'dataset {now.name!r} has {now.key} {now.shape} with {now.num_levels} levels; '
                f'the model was trained on {trained.name!r}: {trained.key} {trained.shape} with '
                f'{trained.num_levels} levels'
            )

    def variables(self, use_ema: bool | None = None):
        from models.core.step import eval_variables

        return eval_variables(self.state, self.config.eval.use_ema if use_ema is None else use_ema)

    def close(self) -> None:
        self.trainer.close()

    def __enter__(self) -> FinishedRun:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_run(
    workdir: str, overrides: list[str], require: Callable[[Any, Any], None] | None = None
) -> FinishedRun:
    """Checks, then restores; `require(family, spec)` raises RunError for a family that lacks
    what the command needs (it runs after the family is built, before anything is compiled)."""
    saved = saved_config(workdir)
    config = with_overrides(saved, overrides)
    step = check_finished(workdir, saved)
    check_same_model(saved, config)
    _start_jax(config)
    return FinishedRun(workdir, config, saved, step, require)


def _start_jax(config) -> None:
    import jax

    if config.mesh.cpu_devices:
        try:
            jax.config.update('jax_num_cpu_devices', config.mesh.cpu_devices)
        except RuntimeError:
            pass  # JAX already started in this process (a test, a notebook): keep its devices
    logging.getLogger('absl').setLevel(logging.WARNING)


def command_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description,
        epilog='Further --config.a.b=v arguments override the run saved in the workdir.',
    )
    parser.add_argument('--workdir', required=True, help='a finished run of experiments.run')
    parser.add_argument('--verbose', action='store_true', help='tracebacks with errors')
    return parser


def main_of(command: Callable[[argparse.Namespace, list[str]], Any], parser):
    """The `main(argv)` of a command: parse, run, and turn any failure into one line."""

    def main(argv: list[str] | None = None):
        args, overrides = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
        logging.basicConfig(level=logging.WARNING, format='%(levelname)s %(name)s: %(message)s')
        try:
            return command(args, overrides)
        except Exception as e:  # noqa: BLE001 - one clear line for the user, the detail on request
            if args.verbose:
                raise
            kind = 'config error' if isinstance(e, ConfigError) else 'error'
            sys.exit(
                f'{kind}: {e}'
                if isinstance(e, RunError | ConfigError)
                else f'error: {type(e).__name__}: {e}\n(run with --verbose for the traceback)'
            )

    return main


def record(workdir: str, step: int, tag: str, metrics: dict[str, float]) -> None:
    """Appends `metrics` to the run's metrics.jsonl as `<tag>/<name>` at the checkpoint's step,
    so the trainer's own `test/...` lines (and report.py's table) are never shadowed."""
    line = {'step': int(step)}
    for key, value in metrics.items():
        line[f'{tag}/{key.removeprefix("test/")}'] = float(value)
    with open(os.path.join(workdir, 'metrics.jsonl'), 'a') as f:
        f.write(json.dumps(line) + '\n')
