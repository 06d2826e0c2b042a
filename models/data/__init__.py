"""Datasets and input pipelines: sources by name, and deterministic resumable batches."""

from models.data import synthetic2d, user_datasets
from models.data.builders import prepare
from models.data.loader import TrainBatches, eval_batches
from models.data.sources import (
    ArraySource,
    DatasetNotFoundError,
    DatasetSpec,
    Source,
    default_data_dir,
    image_spec,
    open_split,
    to_memory,
)

__all__ = [
    'ArraySource',
    'DatasetNotFoundError',
    'DatasetSpec',
    'Source',
    'TrainBatches',
    'default_data_dir',
    'eval_batches',
    'image_spec',
    'open_split',
    'prepare',
    'synthetic2d',
    'to_memory',
    'user_datasets',
]
