"""The family contract (v2): the pure functions every model family hands the shared trainer.

A family module under `models/` exposes `make(**model_kw) -> Family`. The trainer finds it by
dotted path from the config (`config.model = 'baselines.pixel_categorical'`), so adding or forking
a model never edits a shared registry.

Variables. Every function receives `Variables(params, state)`:
    params: {player: pytree}  trainable; one optimizer per player (`config.optim.<player>`), and
                              the EMA averages these only.
    state:  pytree            loop state that is not trained: batch-norm statistics, historical
                              averages, VBN references, environment states, normalisers. Never
                              differentiated or averaged; checkpointed and restored bitwise; leaves
                              that `state_sharding` marks are split along the data axis.

Players generalise single-loss models: `{'model'}` for a flow, `{'disc', 'gen'}` for a GAN,
`{'policy', 'value', 'disc'}` for GAIL. The default update (`models.core.step.default_update`)
updates the players in the order of `config.optim`, each with one guarded optax update from the
gradient of its own loss; later players see the earlier players' new parameters and loop state.
A family that needs more (several minibatch epochs on one rollout, a line search) supplies
`update` and builds its step from the same shared pieces (`models.core.step.UpdateTools`).

Keys. The loss gets `Context(rng, step)`: one key per step (`fold_in(train key, step)`) and the
step number (KL warm-up, free-bits or entropy schedules). Evaluation gets a key per test batch
derived from the step and the batch index only, so a stochastic bound is reproducible and does not
depend on the device or process count.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

PyTree = Any


class Variables(NamedTuple):
    """What every family function reads: trainable params per player and the loop state."""

    params: dict[str, PyTree]
    state: PyTree = {}


class Context(NamedTuple):
    """What the loss (and a family's own update) knows about the step it runs in."""

    rng: Any  # this step's key, fold_in(train key, step); split it for independent draws
    step: Any  # int32 scalar: the number of steps done before this one (0 at the first)


class Evaluation(NamedTuple):
    """Test metrics of a family beyond (or instead of) the likelihood.

    outputs:   (variables, batch, rng) -> dict[str, [B, ...] array], one row per test example (it
               may draw model samples with `rng`, one per row). For a family without a dataset
               `batch` is None and it is called `config.eval.max_batches` times (at least once).
    summarize: (dict[str, np.ndarray [N, ...]] over the whole test split) -> dict[str, float],
               run on the host; the trainer logs the result under the keys it returns.
    """

    outputs: Callable[..., dict[str, Any]]
    summarize: Callable[[dict[str, Any]], dict[str, float]]


class Family(NamedTuple):
    """Pure functions over `Variables`.

    init:     (rng, batch) -> Variables, or a bare {player: params} dict for a stateless family.
              `batch` is the first training batch (data-dependent init); None without a dataset.
    loss:     (variables, batch, ctx: Context) -> (losses: {player: scalar}, metrics: {str:
              scalar}, new_state). Dequantisation noise and bits/dim terms (`bpd/recon`,
              `bpd/kl`) live here. A stateless family returns `variables.state` unchanged.
    sample:   (variables, rng, num) -> samples in data space (integer levels for discrete data).
    log_prob: (variables, batch, rng) -> [B] log-likelihood (exact or a lower bound) in nats of
              the discrete data, dequantisation accounted for; or {name: [B]} for several bounds,
              where 'log_prob' is the headline one (`test/nll`, `test/bpd`) and every other name
              is reported as `test/<name>_nll` and `test/<name>_bpd`. None for models without one.
    evaluation: optional `Evaluation` of test metrics the likelihood does not cover.
    update:   optional (tools, UpdateState, batch, ctx) -> (UpdateState, metrics): the family's
              own step body, built from `tools` (see `models.core.step`). None: default update.
    render:   optional (path, samples) -> None: writes a picture of `sample`'s output. None: an
              image grid (or a 2-D histogram for [N, 2] points) by `models.core.images`.
    state_sharding: optional (state) -> pytree of bool over the loop state's leaves: True splits
              the leaf's leading axis over the data axis (one environment per row, say).
    pieces:   optional typed pieces for consumers (`models.core.pieces`): `Autoregressive`,
              `Bijective` or `LatentVariable`; compression codes through them.
    """

    init: Callable[..., Any]
    loss: Callable[..., tuple[dict[str, Any], dict[str, Any], PyTree]]
    sample: Callable[..., Any]
    log_prob: Callable[..., Any] | None = None
    evaluation: Evaluation | None = None
    update: Callable[..., Any] | None = None
    render: Callable[[str, Any], None] | None = None
    state_sharding: Callable[[PyTree], PyTree] | None = None
    pieces: Any = None


def as_variables(initialised: Any) -> Variables:
    """`init`'s output as Variables: a bare params dict means an empty loop state."""
    if isinstance(initialised, Variables):
        return initialised
    if isinstance(initialised, dict):
        return Variables(initialised, {})
    raise TypeError(
        f'family init returned {type(initialised).__name__}; expected Variables(params, state) '
        'or a {player: params} dict'
    )


def takes_keywords_of(fn: Callable[..., Any]):
    """Decorates a `make(data_spec, **kw)` that forwards to `fn`: `make_family` then checks
    `config.model_kw` against `fn`'s keyword arguments and names them when one is misspelt."""

    def declare(make):
        make.__signature__ = inspect.signature(fn)
        return make

    return declare


def load_family_module(path: str):
    """Imports `models.<path>` (or `<path>` itself, for families kept outside models/)."""
    candidates = [path] if path.startswith('models.') else [f'models.{path}', path]
    module = None
    for name in candidates:
        try:
            module = importlib.import_module(name)
            break
        except ModuleNotFoundError as e:
            # A missing family module is the user's typo; a missing dependency inside it is not.
            if not (e.name and name.startswith(e.name)):
                raise
    if module is None:
        raise ValueError(
            f"config.model = '{path}': no module {' or '.join(repr(c) for c in candidates)}. A "
            'family is a module under models/ with a make(**model_kw) -> Family function.'
        )
    if not callable(getattr(module, 'make', None)):
        raise ValueError(f"config.model = '{path}': module '{module.__name__}' has no make().")
    return module


def make_family(
    path: str, model_kw: dict[str, Any], data_spec: Any, aux_specs: dict[str, Any] | None = None
) -> Family:
    """Builds the family, refusing unknown keyword arguments with the valid ones named.

    `data_spec` (shape, levels, classes of the dataset; None for a family without one) is passed
    as `data_spec=` when `make` accepts it, so one config can move a model between datasets; the
    specs of the auxiliary sources (`config.data.aux`) likewise as `aux_specs=`.
    """
    module = load_family_module(path)
    params = inspect.signature(module.make).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    injected = ('data_spec', 'aux_specs')
    valid = sorted(n for n in params if n not in injected)
    unknown = sorted(set(model_kw) - set(valid))
    if unknown and not accepts_any:
        raise ValueError(
            f'config.model_kw has unknown key(s) {unknown} for {path}.make(); valid keys: {valid}'
        )
    kwargs = dict(model_kw)
    if 'data_spec' in params:
        kwargs['data_spec'] = data_spec
    if 'aux_specs' in params:
        kwargs['aux_specs'] = dict(aux_specs or {})
    elif aux_specs:
        raise ValueError(
            f'config.data.aux names {sorted(aux_specs)} but {path}.make() takes no aux_specs: '
            'this family reads no auxiliary data'
        )
    family = module.make(**kwargs)
    if not isinstance(family, Family):
        raise TypeError(f'{path}.make() returned {type(family).__name__}, expected a Family.')
    return family
