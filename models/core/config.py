"""Trainer configuration: the shared defaults every experiment derives from, and their validation.

An experiment file's `get_config(arg)` starts from `defaults()` and changes what it needs. Before
anything is compiled, `validate` refuses keys the trainer does not know (a typo would otherwise be
silently ignored) and values of the wrong type or outside their choices, naming the key and what is
valid.
"""

from __future__ import annotations

import ast
import difflib
from typing import Any

import ml_collections

# Sections whose keys are free: the family's keyword arguments (checked against make()'s
# signature), the paper numbers, and one optimizer entry per player (checked against OPTIMIZER).
FREE_SECTIONS = ('model_kw', 'expected', 'optim', 'data.aux', 'eval.model_kw')

CHOICES = {
    'train.on_nonfinite': ('stop', 'skip'),
    'optim.*.name': ('adam', 'adamw', 'adamax', 'sgd', 'rmsprop', 'lamb'),
    'optim.*.schedule': ('constant', 'cosine', 'linear', 'exponential'),
}


def optimizer(**overrides: Any) -> ml_collections.ConfigDict:
    """One player's optimizer: optax transform, schedule, clipping, weight decay, EMA."""
    opt = ml_collections.ConfigDict(
        {
            'name': 'adam',
            'lr': 1e-3,
            'b1': 0.9,
            'b2': 0.999,
            'eps': 1e-8,
            'momentum': 0.0,  # sgd / rmsprop only
            'weight_decay': 0.0,  # decoupled (adamw, lamb) or L2 added to the gradient (others)
            'schedule': 'constant',
            'warmup_steps': 0,
            'decay_steps': 0,  # 0: the run's total steps
            'decay_rate': 1.0,  # exponential: lr * decay_rate ** (step / decay_steps)
            'end_lr_factor': 0.0,  # cosine / linear: final lr; exponential: its floor (0: none)
            'clip_norm': 0.0,  # 0 disables global-norm clipping
            'ema_decay': 0.0,  # 0 disables the exponential moving average of this player's params
        }
    )
    opt.update(overrides)
    return opt


OPTIMIZER = optimizer()


def aux_source(**overrides: Any) -> ml_collections.ConfigDict:
    """A second data source a family reads beside (or instead of) the main one: a labelled
    subset, expert demonstrations. Opened by the data layer under `config.data.data_dir`; each
    step's rows come in the batch as `batch['aux'][<entry name>]`, the same on resume."""
    source = ml_collections.ConfigDict(
        {
            'name': '',  # dataset name; '' = config.data.name
            'split': 'train',
            'batch_size': 64,  # global rows per step, split over processes and devices
            'per_class': 0,  # > 0: only a class-balanced subset with this many per class
            'subset_seed': 0,  # which examples that subset holds
            'seed': 0,  # the order rows are drawn in
        }
    )
    source.update(overrides)
    return source


AUX_SOURCE = aux_source()


def defaults() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model = ''  # dotted path under models/, e.g. 'baselines.pixel_categorical'
    c.model_kw = ml_collections.ConfigDict()

    c.data = ml_collections.ConfigDict(
        {
            'name': '',  # '' = no main dataset (a family whose data comes from an environment)
            'data_dir': '',  # '' = the local cache for bundled datasets; a gs:// bucket on a pod
            'train_split': 'train',
            'eval_split': 'test',
            'cache': True,  # decode the split once into memory (splits over 2 GiB never are)
            'seed': 0,  # data order; independent of the model seed
            'aux': ml_collections.ConfigDict(),  # {entry name: aux_source()}
        }
    )
    c.train = ml_collections.ConfigDict(
        {
            'steps': 1000,
            'batch_size': 64,  # global, over all processes and devices
            'seed': 0,
            'log_every': 50,
            'eval_every': 500,
            'sample_every': 500,
            'checkpoint_every': 500,
            'keep_checkpoints': 3,
            'on_nonfinite': 'stop',
            'progress': True,
        }
    )
    c.optim = ml_collections.ConfigDict({'model': optimizer()})
    c.eval = ml_collections.ConfigDict(
        {
            'batch_size': 256,
            'max_batches': 0,  # 0: the whole split
            'num_samples': 64,
            'use_ema': True,  # evaluate and sample with the EMA params where a player has them
            # Model keywords that change evaluation only (e.g. `iw_samples`, the importance
            # samples of a stochastic bound): merged over model_kw, never part of a checkpoint's
            # fingerprint, so a finished run can be evaluated again at another setting.
            'model_kw': ml_collections.ConfigDict(),
        }
    )
    c.mesh = ml_collections.ConfigDict(
        {
            'num_devices': 0,  # 0: every device of every process
            # CPU only: split each host's cores into this many JAX devices so the data-parallel
            # step puts every core to work (one XLA CPU device leaves cores idle; 2 devices on 2
            # cores measured 1.5x faster for a conv net). 0 keeps JAX's default of one. Applied
            # by experiments/run.py before JAX starts.
            'cpu_devices': 0,
        }
    )
    c.distributed = ml_collections.ConfigDict(
        {
            'enabled': False,
            'coordinator_address': '',  # '' lets jax detect TPU pods / SLURM / k8s
            'num_processes': 0,
            'process_id': -1,
            'cpu_collectives': 'gloo',
        }
    )
    c.compilation_cache_dir = ''  # '' = off; JAX's persistent compilation cache
    c.expected = ml_collections.ConfigDict()  # the paper's numbers, e.g. {'test/bpd': 3.49}
    return c


def smoke(config: ml_collections.ConfigDict, steps: int = 10) -> ml_collections.ConfigDict:
    """Turns an experiment into its smoke variant: a few steps that exercise every code path
    (log, checkpoint, eval, samples) without a progress bar."""
    config.train.steps = steps
    config.train.log_every = max(1, steps // 4)
    config.train.eval_every = steps
    config.train.sample_every = steps
    config.train.checkpoint_every = max(1, steps // 2)
    config.train.progress = False
    return config


class ConfigError(ValueError):
    pass


def _choices_for(path: str) -> tuple[str, ...] | None:
    if path in CHOICES:
        return CHOICES[path]
    parts = path.split('.')
    if len(parts) == 3 and parts[0] == 'optim':
        return CHOICES.get(f'optim.*.{parts[2]}')
    return None


def _type_ok(value: Any, reference: Any) -> bool:
    if isinstance(reference, bool):
        return isinstance(value, bool)
    if isinstance(reference, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(reference, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(reference, str):
        return isinstance(value, str)
    return True


# Names other libraries use for our keys: a closer hint than spelling similarity.
ALIASES = {
    'learning_rate': 'lr',
    'num_steps': 'steps',
    'train_steps': 'steps',
    'batch': 'batch_size',
    'ema': 'ema_decay',
    'grad_clip': 'clip_norm',
    'max_grad_norm': 'clip_norm',
    'optimizer': 'name',
    'lr_schedule': 'schedule',
}


def _unknown(path: str, key: str, valid: list[str]) -> ConfigError:
    alias = ALIASES.get(key)
    close = [alias] if alias in valid else difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ''
    return ConfigError(f"Unknown config key '{path}'.{hint} Valid keys here: {sorted(valid)}")


def _check_section(config: Any, reference: Any, prefix: str) -> None:
    for key in config.keys():
        path = f'{prefix}{key}'
        value = config[key]
        if key not in reference:
            raise _unknown(path, key, list(reference.keys()))
        ref = reference[key]
        if isinstance(ref, ml_collections.ConfigDict):
            if not isinstance(value, ml_collections.ConfigDict):
                raise ConfigError(f"Config key '{path}' must be a section, got {value!r}")
            if path in FREE_SECTIONS:
                continue
            _check_section(value, ref, f'{path}.')
            continue
        if not _type_ok(value, ref):
            raise ConfigError(
                f"Config key '{path}' = {value!r} has type {type(value).__name__}; "
                f'expected {type(ref).__name__} (default {ref!r})'
            )
        choices = _choices_for(path)
        if choices is not None and value not in choices:
            raise ConfigError(f"Config key '{path}' = {value!r}; valid choices: {list(choices)}")


def validate(config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError naming the offending key, before any compilation."""
    _check_section(config, defaults(), '')
    if not config.model:
        raise ConfigError(
            "config.model is empty: name a family, e.g. 'baselines.pixel_categorical'"
        )
    for name, source in config.data.aux.items():
        if not isinstance(source, ml_collections.ConfigDict):
            raise ConfigError(f'config.data.aux.{name} must be a section (config.aux_source())')
        _check_section(source, AUX_SOURCE, f'data.aux.{name}.')
        if source.batch_size <= 0 or source.per_class < 0:
            raise ConfigError(
                f'config.data.aux.{name}: batch_size must be positive and per_class >= 0'
            )
        if not (source.name or config.data.name):
            raise ConfigError(f'config.data.aux.{name}.name is empty and so is config.data.name')
    if len(config.optim) == 0:
        raise ConfigError('config.optim has no player: add one optimizer entry per player')
    for player, opt in config.optim.items():
        if not isinstance(opt, ml_collections.ConfigDict):
            raise ConfigError(f'config.optim.{player} must be an optimizer section (optimizer())')
        _check_section(opt, OPTIMIZER, f'optim.{player}.')
        if not 0.0 <= opt.ema_decay < 1.0:
            raise ConfigError(f'config.optim.{player}.ema_decay must be in [0, 1)')
    for key in ('steps', 'batch_size', 'log_every', 'eval_every', 'sample_every'):
        if config.train[key] <= 0:
            raise ConfigError(f'config.train.{key} must be positive, got {config.train[key]}')
    if config.train.checkpoint_every < 0 or config.train.keep_checkpoints < 1:
        raise ConfigError('config.train.checkpoint_every must be >= 0, keep_checkpoints >= 1')


def parse_value(text: str, reference: Any, path: str) -> Any:
    """Parses a command-line override to the type of the value it replaces."""
    if isinstance(reference, bool):
        lowered = text.lower()
        if lowered in ('true', '1', 'yes'):
            return True
        if lowered in ('false', '0', 'no'):
            return False
        raise ConfigError(f'--config.{path}={text}: expected true or false')
    if isinstance(reference, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f'--config.{path}={text}: expected an integer') from None
    if isinstance(reference, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f'--config.{path}={text}: expected a number') from None
    if isinstance(reference, str):
        return text
    return _literal(text)


def _literal(text: str) -> Any:
    """A Python literal (number, bool, tuple, quoted string) or, failing that, the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_override(config: ml_collections.ConfigDict, path: str, text: str) -> None:
    """Sets `config.<path>` from a string, refusing paths that do not exist."""
    node = config
    parts = path.split('.')
    walked = []
    for part in parts[:-1]:
        walked.append(part)
        if part not in node:
            raise _unknown('.'.join(walked), part, list(node.keys()))
        node = node[part]
        if not isinstance(node, ml_collections.ConfigDict):
            raise ConfigError(f"--config.{path}: '{'.'.join(walked)}' is not a section")
    leaf = parts[-1]
    if leaf not in node:
        section = '.'.join(walked)
        free = section in FREE_SECTIONS
        if not free:
            raise _unknown(path, leaf, list(node.keys()))
        node[leaf] = _literal(text)
        return
    reference = node[leaf]
    if isinstance(reference, ml_collections.ConfigDict):
        raise ConfigError(f'--config.{path} is a section; set one of {sorted(reference.keys())}')
    value = parse_value(text, reference, path)
    with node.ignore_type():
        node[leaf] = value
