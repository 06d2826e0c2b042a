"""What a run reads: the main dataset's splits, the auxiliary sources, and each step's batch.

A step's host batch is the main dataset's rows for that position, plus
`batch['aux'][name]` for every `config.data.aux` entry (a labelled subset, expert
demonstrations), each from its own seed-determined, resumable `TrainBatches`. A family without a
main dataset (`config.data.name == ''`) gets only the 'aux' part, or `None` when it reads nothing.
Everything is opened under `config.data.data_dir` and checked on the host before compiling.
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import ml_collections
import numpy as np

from models.core.inputs import check_batch
from models.data import open_split
from models.data.loader import TrainBatches, prefetched
from models.data.sources import (
    DATA_DIR_ENV,
    DatasetNotFoundError,
    Subset,
    default_data_dir,
    gather,
)
from models.data.subsets import class_balanced_subset


class DataDirError(OSError):
    """The data dir cannot hold (or give) the dataset: not a directory, not writable."""


class RunInputs:
    """The opened sources of one run and the batches the loop feeds the step."""

    def __init__(self, data: ml_collections.ConfigDict, train_batch_size: int, eval_size: int):
        self.config = data
        self.data_dir = data.data_dir or None
        process = {'process_index': jax.process_index(), 'process_count': jax.process_count()}
        self.spec = self.train_source = self.eval_source = self.loader = None
        if data.name:
            self.train_source, self.spec = self._open(data.name, data.train_split)
            self.eval_source, _ = self._open(data.name, data.eval_split)
            self.loader = TrainBatches(
                self.train_source, train_batch_size, seed=data.seed, **process
            )
        self.aux_specs: dict[str, Any] = {}
        self.aux_loaders: dict[str, TrainBatches] = {}
        for name, aux in data.aux.items():
            source, spec = self._open(aux.name or data.name, aux.split)
            if aux.per_class:
                source = self._balanced(name, source, spec, aux)
            self.aux_specs[name] = spec
            self.aux_loaders[name] = TrainBatches(source, aux.batch_size, seed=aux.seed, **process)
        self._check(eval_size)

    def _open(self, name: str, split: str):
        try:
            return open_split(name, split, self.data_dir, cache=self.config.cache)
        except OSError as e:
            if isinstance(e, DatasetNotFoundError):
                raise
            setting = (
                f'config.data.data_dir={self.data_dir}'
                if self.data_dir
                else f'${DATA_DIR_ENV} or its default ({default_data_dir()})'
            )
            raise DataDirError(
                f'dataset {name!r} cannot be read or prepared in the data dir set by {setting}: '
                f'{e.strerror or e} ({getattr(e, "filename", "") or ""}). Bundled datasets are '
                'built there on first use, so it must be a writable directory.'
            ) from e

    @staticmethod
    def _balanced(name: str, source, spec, aux) -> Subset:
        if spec.num_classes is None or 'label' not in source[0]:
            raise ValueError(
                f'config.data.aux.{name}.per_class = {aux.per_class}, but dataset {spec.name!r} '
                'has no labels'
            )
        labels = np.asarray(gather(source, np.arange(len(source)))['label'])
        chosen = class_balanced_subset(labels, aux.per_class, spec.num_classes, aux.subset_seed)
        return Subset(source, chosen)

    def _check(self, eval_size: int) -> None:
        """Shapes, dtypes and level ranges of every source, on the host, before compiling."""
        if self.loader is not None:
            check_batch(self.loader[0], self.spec, f'{self.spec.name}/{self.config.train_split}')
            head = np.arange(min(len(self.eval_source), eval_size))
            check_batch(
                gather(self.eval_source, head),
                self.spec,
                f'{self.spec.name}/{self.config.eval_split}',
            )
        for name, loader in self.aux_loaders.items():
            check_batch(loader[0], self.aux_specs[name], f'config.data.aux.{name}')

    @property
    def empty(self) -> bool:
        return self.loader is None and not self.aux_loaders

    def __getitem__(self, position: int) -> dict[str, Any] | None:
        """This process's rows of the step `position` batch (None for a family that reads none)."""
        if self.empty:
            return None
        batch = dict(self.loader[position]) if self.loader is not None else {}
        if self.aux_loaders:
            batch['aux'] = {name: loader[position] for name, loader in self.aux_loaders.items()}
        return batch

    def iterate(self, start: int):
        """Batches start, start + 1, ..., read ahead in a background thread."""
        if self.empty:
            return _NoBatches()
        return prefetched(self.__getitem__, itertools.count(start), 2)


class _NoBatches:
    def __next__(self) -> None:
        return None

    def close(self) -> None:
        pass
