"""Which model a workdir's checkpoints belong to, so a run never resumes another model's state.

Every checkpoint's meta carries the checkpoint format version and a fingerprint of what fixes the
train state's meaning: the family, its keyword arguments, the datasets it reads, the players and
their optimizers, and which players keep an EMA. Learning rates, step counts, logging and
evaluation settings may change between runs of one workdir; these may not.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import ml_collections

# 1: the v1 contract (non-trainable state inside params, no fingerprint). 2: contract v2.
FORMAT_VERSION = 2


class IncompatibleCheckpointError(RuntimeError):
    """The workdir holds checkpoints of another format version or another model."""


def identity(config: ml_collections.ConfigDict) -> dict[str, Any]:
    data = config.data
    return {
        'model': config.model,
        'model_kw': json.loads(config.model_kw.to_json()),
        'data': data.name,
        'aux': {
            n: [a.name or data.name, a.split, a.per_class, a.subset_seed]
            for n, a in data.aux.items()
        },
        'optim': {p: [o.name, o.ema_decay > 0] for p, o in config.optim.items()},
    }


def fingerprint(config: ml_collections.ConfigDict) -> str:
    text = json.dumps(identity(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def meta_fields(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """What every checkpoint's meta records about the run that wrote it."""
    return {
        'format_version': FORMAT_VERSION,
        'fingerprint': fingerprint(config),
        'identity': identity(config),
    }


def check_compatible(meta: dict[str, Any], config: ml_collections.ConfigDict, where: str) -> None:
    """Refuses, naming both sides, a checkpoint of another format version or another model."""
    version = meta.get('format_version', 1)
    if version != FORMAT_VERSION:
        raise IncompatibleCheckpointError(
            f'The checkpoints in {where} have format version {version}; this code reads version '
            f'{FORMAT_VERSION}. Resume them with the code that wrote them, or use a new --workdir.'
        )
    saved, now = meta.get('fingerprint'), fingerprint(config)
    if saved != now:
        theirs, ours = meta.get('identity', {}), identity(config)
        differs = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        details = '; '.join(f'{k}: {theirs.get(k)!r} there, {ours.get(k)!r} here' for k in differs)
        raise IncompatibleCheckpointError(
            f'The checkpoints in {where} belong to another model (fingerprint {saved}; this '
            f'config is {now}). Differences: {details}. Use a new --workdir for a new model; '
            'nothing was read or overwritten.'
        )
