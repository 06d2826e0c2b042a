"""The family contract: the handful of pure functions every model family hands the shared trainer.

A family module under `models/` exposes `make(**model_kw) -> Family`. The trainer finds it by
dotted path from the config (`config.model = 'baselines.pixel_categorical'`), so adding or forking
a model never edits a shared registry.

Players generalise single-loss models: `{'model'}` for a flow, `{'disc', 'gen'}` for a GAN,
`{'policy', 'value', 'disc'}` for GAIL. The step updates players in the order of `config.optim`,
each with its own optimizer; later players see the earlier players' new parameters.

Non-trainable variables (batch-norm running statistics, historical averages) live in a player's
parameter dict under the reserved key `'state'`. The step never differentiates or optimises that
subtree; a loss that updates it returns the new values in its metrics under the reserved key
`'state_updates'` as `{player: new_state_subtree}`, and the step writes them back.

Families without a likelihood (GANs) report their test metrics through an optional `Evaluation`:
per-example outputs computed on device for every test batch, gathered on the host (padding rows
dropped) and reduced there to named metrics, so split-wise scores (Inception score), moment
matching (FID) or a best code-to-label matching fit the same loop as a summed likelihood.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

PyTree = Any
STATE_KEY = 'state'
STATE_UPDATES_KEY = 'state_updates'


class Evaluation(NamedTuple):
    """Test metrics of a family beyond (or instead of) the likelihood.

    outputs:   (params, batch, rng) -> dict[str, [B, ...] array], one row per test example (it may
               draw model samples with `rng`, one per row, so their number is the test-set size).
    summarize: (dict[str, np.ndarray [N, ...]] over the whole test split) -> dict[str, float],
               run on the host; the trainer logs the result under the keys it returns.
    """

    outputs: Callable[..., dict[str, Any]]
    summarize: Callable[[dict[str, Any]], dict[str, float]]


class Family(NamedTuple):
    """Pure functions over explicit parameter pytrees.

    init:     (rng, batch) -> params: dict[player, pytree]. `batch` allows data-dependent init.
    loss:     (params, batch, rng) -> (losses: dict[player, scalar], metrics: dict[str, scalar]).
              Dequantisation noise and bits/dim terms (`bpd/recon`, `bpd/kl`) live here.
    sample:   (params, rng, num) -> samples in data space (uint8-valued levels for discrete data).
    log_prob: (params, batch) -> [B] exact (or bound on the) log-likelihood in nats of the discrete
              data, with the dequantisation term accounted for. None for models without one (GANs).
    evaluation: optional `Evaluation` of test metrics the likelihood does not cover.
    """

    init: Callable[..., dict[str, PyTree]]
    loss: Callable[..., tuple[dict[str, Any], dict[str, Any]]]
    sample: Callable[..., Any]
    log_prob: Callable[..., Any] | None = None
    evaluation: Evaluation | None = None


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


def make_family(path: str, model_kw: dict[str, Any], data_spec: Any) -> Family:
    """Builds the family, refusing unknown keyword arguments with the valid ones named.

    `data_spec` (shape, levels, classes of the dataset) is passed as `data_spec=` when `make`
    accepts it, so one config can move a model between datasets.
    """
    module = load_family_module(path)
    params = inspect.signature(module.make).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    valid = sorted(n for n in params if n != 'data_spec')
    unknown = sorted(set(model_kw) - set(valid))
    if unknown and not accepts_any:
        raise ValueError(
            f'config.model_kw has unknown key(s) {unknown} for {path}.make(); valid keys: {valid}'
        )
    kwargs = dict(model_kw)
    if 'data_spec' in params:
        kwargs['data_spec'] = data_spec
    family = module.make(**kwargs)
    if not isinstance(family, Family):
        raise TypeError(f'{path}.make() returned {type(family).__name__}, expected a Family.')
    return family
