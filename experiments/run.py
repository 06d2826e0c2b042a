"""The one entry point of every experiment.

    python -m experiments.run --config FILE[:ARG] --workdir DIR [--config.a.b=v ...] [--verbose]

FILE is an experiment config (a Python file with `get_config(arg=None)`); ARG picks a variant:
`smoke`, or one the file lists in `VARIANTS`. Overrides are checked against the config: an unknown
key or a value of the wrong type is an error that names the key, before anything is compiled. Run
the same command on every host of a TPU pod with `--config.distributed.enabled=true`.

A failure prints one line saying what is wrong (and the traceback with --verbose); a stop by
SIGTERM or Ctrl-C saves the step just finished and exits with 143 or 130.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import re
import sys

import ml_collections

from models.core.config import ConfigError, apply_override, validate

_OVERRIDE = re.compile(r'^--config\.([A-Za-z0-9_.]+)(?:=(.*))?$')


def load_config(spec: str) -> ml_collections.ConfigDict:
    """Loads `path/to/config.py` or `path/to/config.py:variant`."""
    path, _, arg = spec.partition(':')
    if not os.path.exists(path):
        raise ConfigError(f'--config {path}: no such file')
    module_name = '_experiment_config_' + os.path.splitext(os.path.basename(path))[0]
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, 'get_config'):
        raise ConfigError(f'--config {path}: the file has no get_config(arg=None) function')
    variants = ('smoke', *getattr(module, 'VARIANTS', ()))
    if arg and arg not in variants:
        raise ConfigError(f'--config {spec}: no variant {arg!r}; this file has {list(variants)}')
    return module.get_config(arg or None)


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> None:
    """Applies `--config.a.b=v` (or `--config.a.b v`) arguments in place, then validates."""
    i = 0
    while i < len(overrides):
        match = _OVERRIDE.match(overrides[i])
        if not match:
            raise ConfigError(
                f'unrecognised argument {overrides[i]!r}; overrides look like --config.a.b=v'
            )
        key, value = match.group(1), match.group(2)
        if value is None:
            if i + 1 >= len(overrides):
                raise ConfigError(f'--config.{key} needs a value')
            value, i = overrides[i + 1], i + 1
        apply_override(config, key, value)
        i += 1
    validate(config)


def parse_args(argv: list[str]) -> tuple[ml_collections.ConfigDict, str, bool]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', required=True, help='experiment file, optionally :variant')
    parser.add_argument('--workdir', required=True, help='checkpoints, metrics and samples go here')
    parser.add_argument('--verbose', action='store_true', help='tracebacks with errors')
    args, rest = parser.parse_known_args(argv)
    config = load_config(args.config)
    apply_overrides(config, rest)
    return config, args.workdir, args.verbose


def init_distributed(dist: ml_collections.ConfigDict) -> None:
    """Joins the processes of a multi-host run. Must run before JAX touches a device."""
    import jax

    if dist.cpu_collectives:
        jax.config.update('jax_cpu_collectives_implementation', dist.cpu_collectives)
    kwargs = {}
    if dist.coordinator_address:
        kwargs['coordinator_address'] = dist.coordinator_address
    if dist.num_processes:
        kwargs['num_processes'] = dist.num_processes
    if dist.process_id >= 0:
        kwargs['process_id'] = dist.process_id
    jax.distributed.initialize(**kwargs)


def main(argv: list[str] | None = None) -> dict[str, float]:
    try:
        config, workdir, verbose = parse_args(sys.argv[1:] if argv is None else argv)
    except ConfigError as e:
        sys.exit(f'config error: {e}')
    import jax

    if config.mesh.cpu_devices:
        jax.config.update('jax_num_cpu_devices', config.mesh.cpu_devices)
    if config.distributed.enabled:
        init_distributed(config.distributed)

    if config.compilation_cache_dir:
        jax.config.update('jax_compilation_cache_dir', config.compilation_cache_dir)
        jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
    logging.basicConfig(
        level=logging.INFO if jax.process_index() == 0 else logging.WARNING,
        format='%(asctime)s %(levelname)s %(name)s: %(message)s',
    )
    # Orbax logs every save step by step at INFO; keep its warnings only.
    logging.getLogger('absl').setLevel(logging.WARNING)
    from models.core.loop import train_and_evaluate
    from models.core.preemption import Preempted

    try:
        final = train_and_evaluate(config, workdir)
    except Preempted as e:
        logging.getLogger(__name__).warning('%s', e)
        sys.exit(e.exit_code)  # 128 + the signal, what a scheduler expects from a stopped job
    except Exception as e:  # noqa: BLE001 - one clear line for the user, the detail on request
        if verbose:
            raise
        sys.exit(f'error: {type(e).__name__}: {e}\n(run with --verbose for the traceback)')
    if jax.process_index() == 0:
        print_floor(final, config.expected)
    return final


def print_floor(final: dict[str, float], expected: ml_collections.ConfigDict) -> None:
    """This run's numbers next to the floor the config names (`expected.floor`: the per-pixel
    baseline for the digits models), so the first run says what its number means."""
    floor = expected.get('floor')
    if not floor:
        return
    for key, value in floor.items():
        if key in final and isinstance(value, int | float):
            print(
                f'{key}: {final[key]:.4f} this run vs {value} for the {floor.get("name", "floor")}'
            )


if __name__ == '__main__':
    main()
