"""Locally built tfds datasets (array_record, no TensorFlow, no network) and `prepare`.

Importing this package registers the builders with tfds, which `tfds.builder` and
`tfds.data_source` need before they can open the prepared files.
"""

import contextlib
import io
import logging

import tensorflow_datasets as tfds

from models.data.builders import digits, image_patches
from models.data.builders.digits import Digits8x8
from models.data.builders.image_patches import ImagePatches32

BUILDERS = {digits.NAME: Digits8x8, image_patches.NAME: ImagePatches32}
NUM_LEVELS = {digits.NAME: digits.NUM_LEVELS, image_patches.NAME: image_patches.NUM_LEVELS}
SPLIT_SIZES = {digits.NAME: digits.SPLIT_SIZES, image_patches.NAME: image_patches.SPLIT_SIZES}


@contextlib.contextmanager
def _quiet():
    """Hides tfds' progress bars, banner and absl warnings; all noise for a 1 s local build."""
    was_active = getattr(tfds.core.utils.tqdm_utils, '_active', True)
    absl_logger = logging.getLogger('absl')
    absl_level = absl_logger.level
    tfds.display_progress_bar(False)
    absl_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        absl_logger.setLevel(absl_level)
        tfds.display_progress_bar(was_active)


def prepare(name: str, data_dir: str) -> tfds.core.DatasetBuilder:
    """Builds bundled dataset `name` under `data_dir` unless it is already there."""
    if name not in BUILDERS:
        raise ValueError(f'{name!r} is not a bundled dataset; bundled: {sorted(BUILDERS)}.')
    with _quiet():
        builder = BUILDERS[name](data_dir=data_dir, file_format='array_record')
        if not builder.is_prepared():
            builder.download_and_prepare()
    return builder


__all__ = ['BUILDERS', 'NUM_LEVELS', 'SPLIT_SIZES', 'Digits8x8', 'ImagePatches32', 'prepare']
