"""`image_patches32`: 32x32 colour patches cut from the photographs bundled with scikit-image.

Patches tile each photo on a non-overlapping grid from the top-left corner (a partial row or
column at the right/bottom edge is dropped). Flat patches (standard deviation below
`MIN_PATCH_STD` grey levels over all pixels and channels) are left out: they are the black
surround of the retina photograph, a fifth of its grid, and would teach a model mostly to predict
black. The split is by source photo, so no test patch shares a photo with a training patch.
"""

import numpy as np
import skimage.color
import skimage.data
import skimage.util
import tensorflow_datasets as tfds

from models.data.builders.digits import png_bytes

NAME = 'image_patches32'
NUM_LEVELS = 256
PATCH = 32
MIN_PATCH_STD = 4.0
PHOTOS = (
    'astronaut',
    'coffee',
    'chelsea',
    'rocket',
    'hubble_deep_field',
    'immunohistochemistry',
    'retina',
)
TEST_PHOTOS = ('coffee', 'chelsea')
SPLIT_PHOTOS = {
    'train': tuple(p for p in PHOTOS if p not in TEST_PHOTOS),
    'test': TEST_PHOTOS,
}
# Grid counts for the scikit-image photos; the builder checks them while generating.
SPLIT_SIZES = {'train': 3167, 'test': 342}


def load_photo(name: str) -> np.ndarray:
    """Returns photo `name` as RGB uint8 [H, W, 3]."""
    photo = np.asarray(getattr(skimage.data, name)())
    if photo.ndim == 2:
        photo = skimage.color.gray2rgb(photo)
    elif photo.shape[-1] == 4:
        photo = skimage.color.rgba2rgb(photo)
    if photo.dtype != np.uint8:
        photo = skimage.util.img_as_ubyte(photo)
    return photo


def grid_patches(photo: np.ndarray) -> np.ndarray:
    """Cuts [H, W, C] into [rows * cols, PATCH, PATCH, C], row-major from the top-left."""
    rows, cols = photo.shape[0] // PATCH, photo.shape[1] // PATCH
    grid = photo[: rows * PATCH, : cols * PATCH].reshape(rows, PATCH, cols, PATCH, -1)
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * cols, PATCH, PATCH, -1)


class ImagePatches32(tfds.core.GeneratorBasedBuilder):
    """32x32x3 patches of the scikit-image sample photographs, labelled by source photo."""

    name = NAME
    VERSION = tfds.core.Version('1.0.0')
    RELEASE_NOTES = {'1.0.0': 'Stride-32 grid without flat patches; test photos = coffee, chelsea.'}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                'Non-overlapping 32x32 RGB patches of the photographs bundled with scikit-image. '
                f'Test = patches of {", ".join(TEST_PHOTOS)}; train = the other photos. '
                'The label is the index of the source photo.'
            ),
            features=tfds.features.FeaturesDict(
                {
                    'image': tfds.features.Image(shape=(PATCH, PATCH, 3), dtype=np.uint8),
                    'label': tfds.features.ClassLabel(names=list(PHOTOS)),
                }
            ),
            supervised_keys=('image', 'label'),
            homepage='https://scikit-image.org/docs/stable/api/skimage.data.html',
            disable_shuffling=True,
            metadata=tfds.core.MetadataDict(num_levels=NUM_LEVELS),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # The photos ship with scikit-image; nothing to download.
        return {split: self._generate_examples(split) for split in SPLIT_PHOTOS}

    def _generate_examples(self, split: str):
        count = 0
        for name in SPLIT_PHOTOS[split]:
            label = PHOTOS.index(name)
            for i, patch in enumerate(grid_patches(load_photo(name))):
                if patch.std() < MIN_PATCH_STD:
                    continue
                count += 1
                yield f'{name}/{i:05d}', {'image': png_bytes(patch), 'label': label}
        # A changed photo in a new scikit-image would silently change the dataset otherwise.
        if count != SPLIT_SIZES[split]:
            raise ValueError(
                f'{NAME} {split}: cut {count} patches, expected {SPLIT_SIZES[split]}; '
                'the scikit-image sample photos have changed.'
            )
