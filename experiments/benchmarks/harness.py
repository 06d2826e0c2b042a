"""What every benchmark script shares: the machine's matmul peak, timing a family's train step
through the repo's shared step, device-count subprocesses, and the printed table.

    python -m experiments.benchmarks.harness                      # this machine's matmul peak
    python -m experiments.benchmarks.harness --model baselines.pixel_categorical --devices 1 2

The fraction of peak a step reaches is `step_flops / step_s / peak`, with `step_flops` XLA's own
count for the whole (global-batch) step before partitioning, so 1 and N devices compare directly.
A CPU host split into N JAX devices (`jax_num_cpu_devices`) must be set before JAX starts, so every
device count other than the current process's runs in a child process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any


def time_interleaved(
    fns: dict[str, Callable], states: dict[str, Any], batch: Any, iters: int, repeats: int
) -> dict[str, float]:
    """Best seconds per step of each `state = fn(state, batch)` variant, measured in turns.

    Turns make machine drift hit all variants alike; the minimum is reported because on a shared
    machine noise only ever adds time. Each state is threaded through its own step, so buffer
    donation is real.
    """
    import jax

    # Fake CPU devices share the host's cores: with many steps queued, XLA's collective
    # rendezvous times out. Wait for each step there, for every variant alike.
    sync_each_step = jax.device_count() > 1 and jax.default_backend() == 'cpu'
    for name, fn in fns.items():
        for _ in range(2):
            states[name] = fn(states[name], batch)
        jax.block_until_ready(states[name])
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            state = states[name]
            start = time.perf_counter()
            for _ in range(iters):
                state = fn(state, batch)
                if sync_each_step:
                    jax.block_until_ready(state)
            jax.block_until_ready(state)
            samples[name].append((time.perf_counter() - start) / iters)
            states[name] = state
    return {name: min(v) for name, v in samples.items()}


def matmul_peak_gflops(n: int = 2048, iters: int = 10, repeats: int = 3) -> float:
    """Measured float32 GFLOP/s of one [n, n] @ [n, n] on the default device (all its cores)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    # A chain of dependent products, so nothing is cached or elided.
    step = jax.jit(lambda x: jnp.tanh(x @ a) * 0.5)
    seconds = time_interleaved({'mm': lambda x, _: step(x)}, {'mm': a}, None, iters, repeats)
    return 2 * n**3 / seconds['mm'] / 1e9


def _flops(lowered, compiled, devices: int) -> float:
    """XLA's flop count of the global step (pre-partitioning where JAX offers it)."""
    for analysis, scale in ((lowered.cost_analysis, 1), (compiled.cost_analysis, devices)):
        try:
            cost = analysis()
        except Exception:  # noqa: BLE001 (backends without a cost model)
            continue
        if isinstance(cost, list):
            cost = cost[0] if cost else None
        if cost and cost.get('flops', 0) > 0:
            return float(cost['flops']) * scale
    return float('nan')


def measure_family(
    model: str,
    model_kw: dict[str, Any],
    shape: Sequence[int],
    levels: int,
    batch: int,
    iters: int = 10,
    repeats: int = 3,
    sample_num: int = 0,
    num_classes: int = 0,
    ema: float = 0.999,
) -> dict[str, float]:
    """Times `model`'s train step in this process, over all its devices (see `time_family`)."""
    import jax
    import numpy as np
    import optax

    from models.core import mesh as mesh_lib
    from models.core.family import as_variables, make_family
    from models.core.step import eval_variables, make_init, make_train_step
    from models.data import image_spec

    spec = image_spec(tuple(shape), levels)
    if num_classes:
        spec = spec.__class__(**{**spec.__dict__, 'num_classes': num_classes})
    family = make_family(model, dict(model_kw), spec)
    mesh = mesh_lib.make_mesh(0)
    rep, data = mesh_lib.replicated(mesh), mesh_lib.data_sharded(mesh)
    rng = np.random.default_rng(0)
    local = {spec.key: rng.integers(0, levels, (batch, *shape)).astype(np.uint8)}
    if num_classes:
        local['label'] = rng.integers(0, num_classes, (batch,)).astype(np.int32)
    batch_arrays = mesh_lib.global_batch(local, mesh)
    probe = jax.eval_shape(
        lambda r, b: as_variables(family.init(r, b)).params, jax.random.PRNGKey(0), batch_arrays
    )
    players = sorted(probe)
    opts = {p: optax.adam(1e-4) for p in players}
    decays = {p: ema for p in players} if ema else {}
    state = jax.jit(make_init(family, opts, decays), out_shardings=rep)(
        jax.random.PRNGKey(0), batch_arrays
    )
    jitted = jax.jit(
        make_train_step(family, opts, decays),
        in_shardings=(rep, data),
        out_shardings=(rep, rep),
        donate_argnums=0,
    )
    lowered = jitted.lower(state, batch_arrays)
    compiled = lowered.compile()
    states = {'step': state}  # the step donates its input: the live state is the one in here
    seconds = time_interleaved(
        {'step': lambda s, b: compiled(s, b)[0]}, states, batch_arrays, iters, repeats
    )['step']
    state = states['step']
    result = {
        'step_s': seconds,
        'step_flops': _flops(lowered, compiled, jax.device_count()),
        'params': float(sum(x.size for p in players for x in jax.tree.leaves(state['params'][p]))),
        'devices': float(jax.device_count()),
    }
    if sample_num:
        sample = jax.jit(family.sample, static_argnums=2, out_shardings=data)
        variables = eval_variables(state, use_ema=False)
        jax.block_until_ready(sample(variables, jax.random.PRNGKey(1), sample_num))
        start = time.perf_counter()
        jax.block_until_ready(sample(variables, jax.random.PRNGKey(2), sample_num))
        result['sample_s'] = time.perf_counter() - start
    return result


def run_child(module: str, args: Sequence[str]) -> dict[str, Any]:
    """Runs `python -m module *args` and returns the JSON on its last `RESULT ` line."""
    cmd = [sys.executable, '-m', module, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{proc.stderr[-4000:]}')
    line = next(s for s in reversed(proc.stdout.splitlines()) if s.startswith('RESULT '))
    return json.loads(line[len('RESULT ') :])


def time_family(
    model: str,
    model_kw: dict[str, Any],
    shape: Sequence[int],
    levels: int,
    batch: int,
    devices: int = 1,
    **kw: Any,
) -> dict[str, float]:
    """`measure_family` in a child process whose CPU host is split into `devices` JAX devices.

    Builds the family by dotted path with `model_kw`, runs its (data-dependent) init on a random
    batch, AOT-compiles the repo's shared, donated, data-sharded step (Adam, EMA 0.999) and returns
    {'step_s', 'step_flops', 'params', 'devices'} plus 'sample_s' when `sample_num` > 0 (one call
    of the jitted sampler after a warm-up call). On a GPU `devices` is ignored: all GPUs are used.
    """
    spec = dict(model=model, model_kw=model_kw, shape=list(shape), levels=levels, batch=batch, **kw)
    return run_child(
        'experiments.benchmarks.harness', ['--child', json.dumps(spec), '--devices', str(devices)]
    )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table, ready to paste into WORKSPACE.md."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f'{v:.3g}' if abs(v) < 1000 else f'{v:.0f}'
        return str(v)

    print('| ' + ' | '.join(headers) + ' |')
    print('|' + '---|' * len(headers))
    for row in rows:
        print('| ' + ' | '.join(cell(v) for v in row) + ' |')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='')
    parser.add_argument('--devices', type=int, nargs='*', default=[1])
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--child', default='', help=argparse.SUPPRESS)
    args = parser.parse_args()
    import jax

    if args.child:
        jax.config.update('jax_num_cpu_devices', args.devices[0])
        print('RESULT ' + json.dumps(measure_family(**json.loads(args.child))), flush=True)
        return
    peak = matmul_peak_gflops()
    print(f'{jax.default_backend()} float32 matmul peak: {peak:.0f} GFLOP/s')
    if not args.model:
        return
    rows = []
    for devices in args.devices:
        r = time_family(args.model, {}, (32, 32, 3), 256, args.batch, devices)
        rows.append(
            [devices, args.batch, 1e3 * r['step_s'], 1e3 * r['step_s'] / args.batch,
             r['step_flops'] / r['step_s'] / 1e9 / peak]
        )  # fmt: skip
    print_table(['devices', 'batch', 'ms/step', 'ms/image', 'fraction of peak'], rows)


if __name__ == '__main__':
    main()
