"""Random-access data sources by dataset name, with a `DatasetSpec` describing each.

Four kinds of dataset share one interface (`len(source)`, `source[i] -> dict of numpy`):
- the bundled tfds datasets (`digits8x8`, `image_patches32`), built on first use from data
  that ships with scikit-learn / scikit-image, so they never need a network;
- the synthetic 2-D densities, held in memory;
- your own arrays (`models.data.user_datasets`: registered in memory, or saved to `data_dir`);
- any other tfds dataset, read from an array_record copy that must already exist in `data_dir`.
  Nothing is ever downloaded here: a missing copy raises `DatasetNotFoundError` at once.
"""

import dataclasses
import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import tensorflow_datasets as tfds

from models.data import builders, synthetic2d, user_datasets

DATA_DIR_ENV = 'GENMODELS_DATA_DIR'
_CACHE_CHUNK = 1024
# Splits larger than this (decoded uint8) are never cached in memory, whatever the config says.
CACHE_LIMIT_BYTES = 2 * 2**30

# Per-dataset facts the tfds feature specs do not state: how many discrete values a pixel takes
# (binarized MNIST stores 0/1 in uint8) and the shape where tfds leaves it open.
_NUM_LEVELS = {
    'mnist': 256,
    'fashion_mnist': 256,
    'binarized_mnist': 2,
    'cifar10': 256,
    'cifar100': 256,
    'svhn_cropped': 256,
    'downsampled_imagenet/32x32': 256,
    'downsampled_imagenet/64x64': 256,
    'celeb_a': 256,
    **builders.NUM_LEVELS,
}
_SHAPES = {
    'downsampled_imagenet/32x32': (32, 32, 3),
    'downsampled_imagenet/64x64': (64, 64, 3),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is unknown, or has no prepared array_record copy in the data directory."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a model needs to know about a dataset before seeing any example."""

    name: str
    shape: tuple[int, ...]  # per-example shape of the main field, e.g. (8, 8, 1) or (2,)
    key: str  # main field name: 'image' or 'x'
    num_levels: int | None  # discrete levels per value (17 digits, 256 images); None = continuous
    num_classes: int | None
    split_sizes: dict[str, int]


def image_spec(shape: tuple[int, ...], num_levels: int, name: str = 'synthetic') -> DatasetSpec:
    """The spec of an image dataset that exists only in code (tests, benchmarks)."""
    return DatasetSpec(name, tuple(shape), 'image', num_levels, None, {})


class Source(Protocol):
    """Random access to one split; examples are dicts of numpy arrays."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...


class ArraySource:
    """A split held in memory as a dict of arrays stacked along the first axis."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        lengths = {key: len(value) for key, value in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f'All arrays need the same length; got {lengths}.')
        self.arrays = dict(arrays)
        self._length = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not -self._length <= index < self._length:
            raise IndexError(f'Index {index} out of range for {self._length} examples.')
        return {key: value[index] for key, value in self.arrays.items()}

    def gather(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Stacked examples at `indices`, by fancy indexing (no per-example Python work)."""
        indices = np.asarray(indices)
        return {key: value[indices] for key, value in self.arrays.items()}


class _TfdsSource:
    """A tfds data source reduced to the main field (and the label, as int32)."""

    def __init__(self, data_source: Sequence[dict[str, Any]], key: str, has_label: bool):
        self._data_source = data_source
        self._fields = (key, 'label') if has_label else (key,)

    def __len__(self) -> int:
        return len(self._data_source)

    def _select(self, example: Mapping[str, Any]) -> dict[str, np.ndarray]:
        # Drop the other features (ids, attribute dicts): they are strings or nested and
        # would not stack into batches.
        selected = {key: np.asarray(example[key]) for key in self._fields}
        if 'label' in selected:
            selected['label'] = selected['label'].astype(np.int32)
        return selected

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self._select(self._data_source[index])

    def gather(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Stacked examples at `indices`; array_record reads a batch of records in one call."""
        indices = [int(i) for i in indices]
        examples = self._data_source.__getitems__(indices)
        return stack([self._select(example) for example in examples])


class Subset:
    """The examples `indices` of another source (a labelled subset, say), in that order."""

    def __init__(self, source: Source, indices: Sequence[int] | np.ndarray):
        self.source = source
        self.indices = np.asarray(indices, np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.source[int(self.indices[index])]

    def gather(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        return gather(self.source, self.indices[np.asarray(indices, np.int64)])


def stack(examples: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Stacks a list of example dicts into a dict of arrays."""
    return {key: np.stack([np.asarray(e[key]) for e in examples]) for key in examples[0]}


def gather(source: Source, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
    """Examples `indices` of `source`, stacked; uses the source's own `gather` when it has one."""
    if hasattr(source, 'gather'):
        return source.gather(indices)
    return stack([source[int(i)] for i in indices])


def to_memory(source: Source) -> ArraySource:
    """Decodes every example of `source` once and keeps the stacked arrays in memory."""
    chunks = [
        gather(source, range(start, min(start + _CACHE_CHUNK, len(source))))
        for start in range(0, len(source), _CACHE_CHUNK)
    ]
    return ArraySource({key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]})


def default_data_dir() -> str:
    """`$GENMODELS_DATA_DIR`, else `~/.cache/genmodels/tfds`."""
    return os.environ.get(DATA_DIR_ENV) or os.path.join(
        os.path.expanduser('~'), '.cache', 'genmodels', 'tfds'
    )


def _not_prepared_message(name: str, data_dir: str) -> str:
    return (
        f'Dataset {name!r} has no prepared copy in data_dir {data_dir!r}, and nothing is '
        'downloaded at run time. Prepare it once as array_record (random access needs that '
        'format), on a machine with network access:\n'
        f'  tfds build {name} --data_dir={data_dir} --file_format=array_record\n'
        'or in Python:\n'
        f"  tfds.builder('{name}', data_dir='{data_dir}', "
        "file_format='array_record').download_and_prepare()\n"
        f'then copy the directory here, or pass its location as data_dir (or set ${DATA_DIR_ENV}). '
        'On TPU pods a GCS bucket path (gs://bucket/tfds) works as data_dir.'
    )


def _prepared_builder(name: str, data_dir: str) -> tfds.core.DatasetBuilder:
    """The tfds builder of `name` in `data_dir`, checked to be prepared (never downloads)."""
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        known = sorted([*builders.BUILDERS, *synthetic2d.NAMES])
        raise DatasetNotFoundError(
            f'Unknown dataset {name!r}: not one of {known}, not a registered tfds dataset and '
            f'not found in data_dir {data_dir!r}.'
        ) from None
    # With downloads on, tfds would retry a missing dataset for minutes; check first.
    if not builder.is_prepared():
        raise DatasetNotFoundError(_not_prepared_message(name, data_dir))
    return builder


def _spec_from_info(name: str, info: tfds.core.DatasetInfo) -> DatasetSpec:
    base_name = name.split(':')[0]  # drop a version suffix such as 'mnist:3.0.1'
    features = info.features
    if 'image' not in features:
        raise ValueError(f'Dataset {name!r} has no image feature; features: {list(features)}.')
    image = features['image']
    shape = _SHAPES.get(base_name, tuple(image.shape))
    if None in shape:
        raise ValueError(f'Dataset {name!r} has images of unknown shape {shape}.')
    num_levels = _NUM_LEVELS.get(base_name)
    if num_levels is None and info.metadata:
        num_levels = info.metadata.get('num_levels')
    if num_levels is None and image.np_dtype == np.uint8:
        num_levels = 256
    label = features['label'] if 'label' in features else None
    return DatasetSpec(
        name=name,
        shape=tuple(int(d) for d in shape),
        key='image',
        num_levels=num_levels,
        num_classes=label.num_classes if isinstance(label, tfds.features.ClassLabel) else None,
        split_sizes={split: info.splits[split].num_examples for split in info.splits},
    )


def _check_split(name: str, split: str, valid: Sequence[str], info=None) -> None:
    """Raises for an unknown split; with tfds `info`, tfds slices such as 'train[:90%]' pass."""
    if info is None:
        known = split in valid
    else:
        try:
            info.splits[split]
            known = True
        except (KeyError, ValueError):
            known = False
    if not known:
        raise ValueError(
            f'Unknown split {split!r} for dataset {name!r}; valid splits: {list(valid)}.'
        )


def open_split(
    name: str, split: str, data_dir: str | None = None, *, cache: bool = False
) -> tuple[Source, DatasetSpec]:
    """Opens `split` of dataset `name` for random access.

    Args:
      name: a synthetic 2-D density, a bundled dataset or any tfds dataset name.
      split: split name; tfds datasets also take slices such as 'train[:90%]'.
      data_dir: tfds data directory (local or gs://); None means `default_data_dir()`.
        Ignored for the synthetic densities.
      cache: decode the whole split once and hold it in memory (for small datasets, so that
        training does not decode PNGs every step).

    Returns:
      (source, spec), where source[i] is a dict with the main field `spec.key` (uint8 images or
      float32 points) and, for labelled datasets, 'label' as int32.
    """
    if name in synthetic2d.NAMES:
        _check_split(name, split, list(synthetic2d.SPLITS))
        spec = DatasetSpec(
            name=name,
            shape=(2,),
            key='x',
            num_levels=None,
            num_classes=None,
            split_sizes={s: size for s, (size, _) in synthetic2d.SPLITS.items()},
        )
        return ArraySource(synthetic2d.split_arrays(name, split)), spec

    data_dir = os.fspath(data_dir) if data_dir is not None else default_data_dir()
    # Your own arrays (registered in this process, or saved by experiments.make_dataset) first.
    user = user_datasets.open_split(name, split, data_dir)
    if user is not None:
        return user
    if name in builders.BUILDERS:
        builder = builders.prepare(name, data_dir)
    else:
        builder = _prepared_builder(name, data_dir)
    spec = _spec_from_info(name, builder.info)
    _check_split(name, split, list(builder.info.splits), builder.info)
    try:
        data_source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except NotImplementedError as error:  # prepared, but as tfrecord: no random access
        raise DatasetNotFoundError(f'{error}\n{_not_prepared_message(name, data_dir)}') from error
    source = _TfdsSource(data_source, spec.key, has_label=spec.num_classes is not None)
    decoded_bytes = len(source) * math.prod(spec.shape)
    if cache and decoded_bytes > CACHE_LIMIT_BYTES:
        # ImageNet 64x64 would need 15 GiB per host and minutes of decoding: stream it instead.
        logging.getLogger(__name__).warning(
            '%s/%s is %.1f GiB decoded, over the %.0f GiB in-memory cache limit: reading it '
            'from array_record instead.',
            name,
            split,
            decoded_bytes / 2**30,
            CACHE_LIMIT_BYTES / 2**30,
        )
        cache = False
    return (to_memory(source) if cache else source), spec
