"""Your own data as a dataset the configs can name (`config.data.name = 'mine'`).

Two ways in, one format:
- `register(name, splits, num_levels=...)` hands arrays to this process (a notebook, a script
  that then calls `train_and_evaluate`); nothing is written.
- `save(name, splits, num_levels=..., data_dir=...)` writes them under
  `<data_dir>/user_arrays/<name>/` (one .npz per split and a spec.json), so every later process
  (experiments.run, sample, evaluate...) finds them; `python -m experiments.make_dataset` does
  this from an .npz file or a folder of PNGs.

`splits` maps a split name to {'image': integer array [N, H, W] or [N, H, W, C]} (or {'x': float
[N, D]} for continuous points), optionally with 'label': integers [N]. The number of levels is
always stated, never guessed: a uint8 array of values 0..16 is a 17-level dataset, and reading it
as 256 levels would be another model space with other bits/dim.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

FOLDER = 'user_arrays'
_REGISTERED: dict[str, tuple[dict[str, dict[str, np.ndarray]], Any]] = {}


def _spec(name, splits, num_levels, num_classes):
    from models.data.sources import DatasetSpec

    first = next(iter(splits.values()))
    key = 'image' if 'image' in first else 'x'
    return DatasetSpec(
        name=name,
        shape=tuple(int(d) for d in first[key].shape[1:]),
        key=key,
        num_levels=None if num_levels is None else int(num_levels),
        num_classes=None if num_classes is None else int(num_classes),
        split_sizes={s: int(len(a[key])) for s, a in splits.items()},
    )


def checked(
    splits: Mapping[str, Mapping[str, Any]], num_levels: int | None, num_classes: int | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """The splits as arrays the loader reads (images [N, H, W, C] uint8/int32, labels int32),
    or ValueError naming what does not fit."""
    if not splits:
        raise ValueError('no splits given; e.g. {"train": {...}, "test": {...}}')
    out, shapes = {}, set()
    for split, arrays in splits.items():
        keys = set(arrays) - {'label'}
        if keys not in ({'image'}, {'x'}):
            raise ValueError(f"split {split!r}: give 'image' (or 'x') and optionally 'label'")
        key = keys.pop()
        data = np.asarray(arrays[key])
        if key == 'image':
            if data.ndim == 3:
                data = data[..., None]
            if data.ndim != 4 or not np.issubdtype(data.dtype, np.integer):
                raise ValueError(
                    f"split {split!r}: 'image' must be integers [N, H, W] or [N, H, W, C], got "
                    f'{data.dtype} {data.shape}'
                )
            if num_levels is None or num_levels < 2:
                raise ValueError(
                    'num_levels is required for images: the number of values a sub-pixel takes '
                    f'(the data holds {data.min()}..{data.max()}; 0..16 is 17 levels)'
                )
            if data.min() < 0 or data.max() >= num_levels:
                raise ValueError(
                    f'split {split!r}: values {data.min()}..{data.max()} lie outside the '
                    f'{num_levels} levels 0..{num_levels - 1}'
                )
            data = data.astype(np.uint8 if num_levels <= 256 else np.int32)
        else:
            if data.ndim != 2 or num_levels is not None:
                raise ValueError(f"split {split!r}: 'x' is continuous points [N, D], no levels")
            data = data.astype(np.float32)
        entry = {key: data}
        if 'label' in arrays:
            labels = np.asarray(arrays['label'])
            if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(f'split {split!r}: labels must be integers [{len(data)}]')
            if num_classes is None or labels.min() < 0 or labels.max() >= num_classes:
                raise ValueError(f'split {split!r}: labels need num_classes > {labels.max()}')
            entry['label'] = labels.astype(np.int32)
        shapes.add((key, data.shape[1:], 'label' in entry))
        out[split] = entry
    if len(shapes) != 1:
        raise ValueError(f'the splits differ in field, shape or labels: {sorted(shapes)}')
    return out


def register(
    name: str,
    splits: Mapping[str, Mapping[str, Any]],
    num_levels: int | None,
    num_classes: int | None = None,
):
    """Makes `name` a dataset of this process, held in memory; returns its DatasetSpec."""
    arrays = checked(splits, num_levels, num_classes)
    spec = _spec(name, arrays, num_levels, num_classes)
    _REGISTERED[name] = (arrays, spec)
    return spec


def save(
    name: str,
    splits: Mapping[str, Mapping[str, Any]],
    num_levels: int | None,
    num_classes: int | None = None,
    data_dir: str | None = None,
) -> str:
    """Writes `name` under the data dir (default: the bundled datasets' cache); returns the path."""
    from models.data.sources import default_data_dir

    if not name or '/' in name or name.startswith('.'):
        raise ValueError(f'dataset name {name!r}: use a plain name such as "my_digits"')
    arrays = checked(splits, num_levels, num_classes)
    path = os.path.join(data_dir or default_data_dir(), FOLDER, name)
    os.makedirs(path, exist_ok=True)
    for split, entry in arrays.items():
        np.savez(os.path.join(path, f'{split}.npz'), **entry)
    with open(os.path.join(path, 'spec.json'), 'w') as f:
        json.dump({'num_levels': num_levels, 'num_classes': num_classes}, f)
    return path


def open_split(name: str, split: str, data_dir: str | None):
    """(ArraySource, DatasetSpec) of a registered or saved dataset, or None if it is neither."""
    from models.data.sources import ArraySource, default_data_dir

    if name in _REGISTERED:
        arrays, spec = _REGISTERED[name]
    else:
        path = os.path.join(data_dir or default_data_dir(), FOLDER, name)
        if not os.path.exists(os.path.join(path, 'spec.json')):
            return None
        with open(os.path.join(path, 'spec.json')) as f:
            meta = json.load(f)
        names = sorted(n[:-4] for n in os.listdir(path) if n.endswith('.npz'))
        arrays = {}
        for s in names:
            with np.load(os.path.join(path, f'{s}.npz')) as loaded:
                arrays[s] = {k: loaded[k] for k in loaded.files}
        spec = _spec(name, arrays, meta['num_levels'], meta['num_classes'])
    if split not in arrays:
        raise ValueError(
            f'Unknown split {split!r} for dataset {name!r}; valid splits: {list(arrays)}.'
        )
    return ArraySource(arrays[split]), spec
