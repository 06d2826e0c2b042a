"""Host-side checks of the data a family will see, run before anything is compiled."""

from __future__ import annotations

import numpy as np


class BadInputError(ValueError):
    pass


def check_batch(batch: dict[str, np.ndarray], spec, where: str) -> None:
    """Shapes, dtypes and level ranges must match the dataset's declared spec."""
    if spec.key not in batch:
        raise BadInputError(f'{where}: batch has fields {sorted(batch)}, expected {spec.key!r}')
    x = np.asarray(batch[spec.key])
    expected = tuple(spec.shape)
    if x.shape[1:] != expected:
        raise BadInputError(
            f'{where}: {spec.key!r} has per-example shape {x.shape[1:]}, expected {expected} '
            f'for dataset {spec.name!r}'
        )
    if spec.num_levels is None:
        if not np.issubdtype(x.dtype, np.floating):
            raise BadInputError(f'{where}: {spec.key!r} must be floating point, got {x.dtype}')
        if not np.all(np.isfinite(x)):
            raise BadInputError(f'{where}: {spec.key!r} contains non-finite values')
        return
    if not np.issubdtype(x.dtype, np.integer):
        raise BadInputError(
            f'{where}: {spec.key!r} must hold integer levels in [0, {spec.num_levels - 1}], '
            f'got dtype {x.dtype}'
        )
    low, high = int(x.min()), int(x.max())
    if low < 0 or high >= spec.num_levels:
        raise BadInputError(
            f'{where}: {spec.key!r} values span [{low}, {high}], outside the declared '
            f'{spec.num_levels} levels [0, {spec.num_levels - 1}] of dataset {spec.name!r}'
        )
