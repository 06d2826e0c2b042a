"""`digits8x8`: scikit-learn's bundled 8x8 handwritten digits as an array_record tfds dataset.

The 1,797 images hold 17 grey levels (0..16) and are stored unscaled, so discrete likelihood
models see the data exactly as collected. The split is fixed by index (every 5th image is test)
rather than random, so it never depends on a seed or a library version's RNG.
"""

import io

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image
from sklearn.datasets import load_digits

NAME = 'digits8x8'
NUM_LEVELS = 17
TEST_EVERY = 5
SPLIT_SIZES = {'train': 1437, 'test': 360}


def png_bytes(image: np.ndarray) -> bytes:
    """Encodes uint8 [H, W] or [H, W, C] as PNG with PIL (tfds' own encoder needs TensorFlow)."""
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='PNG')
    return buffer.getvalue()


def split_indices(split: str, num_images: int) -> np.ndarray:
    """Indices into `load_digits()` that make up `split`, in their original order."""
    index = np.arange(num_images)
    is_test = index % TEST_EVERY == 0
    return index[is_test] if split == 'test' else index[~is_test]


class Digits8x8(tfds.core.GeneratorBasedBuilder):
    """8x8 handwritten digits with 17 grey levels, from scikit-learn's bundled copy."""

    name = NAME
    VERSION = tfds.core.Version('1.0.0')
    RELEASE_NOTES = {'1.0.0': 'Initial release: fixed split, test = index % 5 == 0.'}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                'The UCI optical handwritten digits bundled with scikit-learn: 1,797 images of '
                '8x8 pixels with values 0..16 (not rescaled). Test = every 5th image.'
            ),
            features=tfds.features.FeaturesDict(
                {
                    'image': tfds.features.Image(shape=(8, 8, 1), dtype=np.uint8),
                    'label': tfds.features.ClassLabel(names=[str(d) for d in range(10)]),
                }
            ),
            supervised_keys=('image', 'label'),
            homepage='https://archive.ics.uci.edu/dataset/80',
            # Examples keep the generation order, so split order matches scikit-learn's.
            disable_shuffling=True,
            metadata=tfds.core.MetadataDict(num_levels=NUM_LEVELS),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # The data ships with scikit-learn; nothing to download.
        return {split: self._generate_examples(split) for split in SPLIT_SIZES}

    def _generate_examples(self, split: str):
        digits = load_digits()
        images, labels = digits.images.astype(np.uint8), digits.target
        for index in split_indices(split, len(images)):
            yield int(index), {'image': png_bytes(images[index]), 'label': int(labels[index])}
