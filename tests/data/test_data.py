"""Tests for models.data: bundled tfds builders, sources, synthetic densities and the loader."""

import threading
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn.datasets import load_digits

from models import data
from models.data import builders, synthetic2d
from models.data.builders import digits, image_patches


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    """One directory with both bundled datasets, built once for the whole module."""
    path = str(tmp_path_factory.mktemp('tfds'))
    for name in builders.BUILDERS:
        builders.prepare(name, path)
    return path


def _images(source) -> np.ndarray:
    return np.stack([source[i]['image'] for i in range(len(source))])


# Bundled builders.


def test_digits_matches_sklearn(data_dir):
    reference = load_digits()
    for split, size in [('train', 1437), ('test', 360)]:
        source, spec = data.open_split('digits8x8', split, data_dir)
        assert len(source) == size
        assert spec.shape == (8, 8, 1) and spec.num_levels == digits.NUM_LEVELS == 17
        assert spec.num_classes == 10 and spec.split_sizes == {'train': 1437, 'test': 360}
        images = _images(source)
        assert images.dtype == np.uint8 and images.shape == (size, 8, 8, 1)
        assert images.min() >= 0 and images.max() <= 16
        index = np.arange(len(reference.images))
        index = index[(index % 5 == 0) == (split == 'test')]
        np.testing.assert_array_equal(images[..., 0], reference.images[index].astype(np.uint8))
        labels = np.array([source[i]['label'] for i in range(size)])
        np.testing.assert_array_equal(labels, reference.target[index])


def test_digits_readable_with_plain_tfds(data_dir):
    source = tfds.data_source('digits8x8', split='test', data_dir=data_dir, download=False)
    assert len(source) == 360
    np.testing.assert_array_equal(source[1]['image'][..., 0], load_digits().images[5])
    builder = tfds.builder('digits8x8', data_dir=data_dir)
    assert builder.is_prepared() and builder.info.metadata['num_levels'] == 17


def test_image_patches_split_by_photo(data_dir):
    labels = {}
    for split in ('train', 'test'):
        source, spec = data.open_split('image_patches32', split, data_dir)
        assert len(source) == image_patches.SPLIT_SIZES[split]
        assert spec.shape == (32, 32, 3) and spec.num_levels == 256 and spec.num_classes == 7
        example = source[len(source) - 1]
        assert example['image'].shape == (32, 32, 3) and example['image'].dtype == np.uint8
        labels[split] = {int(source[i]['label']) for i in range(len(source))}
    assert labels['train'].isdisjoint(labels['test'])
    test_photos = {image_patches.PHOTOS[label] for label in labels['test']}
    assert test_photos == set(image_patches.TEST_PHOTOS)
    assert len(labels['train']) == 5


def test_image_patches_grid():
    photo = np.arange(70 * 100 * 3, dtype=np.int64).reshape(70, 100, 3)
    patches = image_patches.grid_patches(photo)
    assert patches.shape == (2 * 3, 32, 32, 3)
    np.testing.assert_array_equal(patches[4], photo[32:64, 32:64])


def test_cache_equals_decoded(data_dir):
    source, _ = data.open_split('digits8x8', 'test', data_dir)
    cached, _ = data.open_split('digits8x8', 'test', data_dir, cache=True)
    assert isinstance(cached, data.ArraySource) and len(cached) == len(source)
    np.testing.assert_array_equal(cached.arrays['image'], _images(source))
    assert cached.arrays['label'].dtype == np.int32


def test_default_data_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv('GENMODELS_DATA_DIR', str(tmp_path))
    assert data.default_data_dir() == str(tmp_path)
    source, _ = data.open_split('digits8x8', 'test')  # prepared on first use
    assert len(source) == 360 and (tmp_path / 'digits8x8').is_dir()


class TinyTestImages(tfds.core.GeneratorBasedBuilder):
    """Stands in for a standard tfds dataset prepared elsewhere (no bundled-name shortcuts)."""

    VERSION = tfds.core.Version('0.0.1')
    RELEASE_NOTES = {'0.0.1': 'Test fixture.'}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    'image': tfds.features.Image(shape=(4, 4, 3), dtype=np.uint8),
                    'label': tfds.features.ClassLabel(num_classes=3),
                    'extra': np.int64,
                }
            ),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        return {'train': self._generate_examples(6)}

    def _generate_examples(self, count):
        for i in range(count):
            image = np.full((4, 4, 3), 40 * i, np.uint8)
            yield i, {'image': digits.png_bytes(image), 'label': i % 3, 'extra': i}


def test_generic_tfds_dataset(tmp_path):
    TinyTestImages(data_dir=str(tmp_path), file_format='array_record').download_and_prepare()
    source, spec = data.open_split('tiny_test_images', 'train[2:]', str(tmp_path))
    assert spec == data.DatasetSpec('tiny_test_images', (4, 4, 3), 'image', 256, 3, {'train': 6})
    assert len(source) == 4 and sorted(source[0]) == ['image', 'label']
    assert source[1]['image'][0, 0, 0] == 120 and source[1]['label'].dtype == np.int32


# Errors.


def test_missing_standard_dataset_fails_fast(tmp_path):
    start = time.monotonic()
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.open_split('cifar10', 'train', str(tmp_path))
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert 'cifar10' in message and str(tmp_path) in message and 'array_record' in message
    assert isinstance(info.value, FileNotFoundError)


def test_unknown_names_and_splits(data_dir, tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match='no_such_dataset'):
        data.open_split('no_such_dataset', 'train', str(tmp_path))
    with pytest.raises(ValueError, match="valid splits: \\['train', 'test'\\]"):
        data.open_split('digits8x8', 'validation', data_dir)
    with pytest.raises(ValueError, match='valid splits'):
        data.open_split('two_moons', 'validation')


# Synthetic 2-D densities.


@pytest.mark.parametrize('name', synthetic2d.NAMES)
def test_synthetic_deterministic(name):
    a = synthetic2d.sample(name, 1000, seed=3)
    assert a.shape == (1000, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, synthetic2d.sample(name, 1000, seed=3))
    assert not np.array_equal(a, synthetic2d.sample(name, 1000, seed=4))
    assert np.all(np.abs(a) < 6) and np.mean(np.abs(a) < 4) > 0.99
    assert np.all(np.abs(a.mean(axis=0)) < 0.5)


def test_synthetic_shapes():
    moons = synthetic2d.sample('two_moons', 2000, seed=0)
    assert 0.5 < moons.std() < 2.5
    board = synthetic2d.sample('checkerboard', 2000, seed=0)
    cell = np.floor((board + 4) / 2).astype(int)
    assert np.all((cell.sum(axis=1) % 2) == 0)
    gaussians = synthetic2d.sample('eight_gaussians', 2000, seed=0)
    radius = np.linalg.norm(gaussians, axis=1)
    assert abs(np.median(radius) - 2 * np.sqrt(2)) < 0.2


def test_synthetic_sources():
    train, spec = data.open_split('checkerboard', 'train')
    test, _ = data.open_split('checkerboard', 'test')
    assert spec.key == 'x' and spec.shape == (2,) and spec.num_levels is None
    assert len(train) == spec.split_sizes['train'] == 50_000 and len(test) == 10_000
    assert train[0]['x'].shape == (2,) and train[0]['x'].dtype == np.float32
    np.testing.assert_array_equal(train[7]['x'], synthetic2d.sample('checkerboard', 50_000, 0)[7])


# Loader.


def _toy_source(size: int = 50) -> data.ArraySource:
    return data.ArraySource(
        {'x': np.arange(size, dtype=np.float32)[:, None], 'label': np.arange(size) % 7}
    )


def _ids(batch) -> np.ndarray:
    return batch['x'][:, 0].astype(int)


def test_train_batches_determinism_and_seeds():
    source = _toy_source()
    a, b = data.TrainBatches(source, 10, seed=0), data.TrainBatches(source, 10, seed=0)
    c = data.TrainBatches(source, 10, seed=1)
    for position in (0, 3, 12):
        np.testing.assert_array_equal(a[position]['x'], b[position]['x'])
    assert any(not np.array_equal(a[p]['x'], c[p]['x']) for p in range(3))
    assert a[0]['label'].dtype == np.int32 and a[0]['x'].dtype == np.float32


def test_train_batches_epochs_are_permutations():
    source = _toy_source(50)
    batches = data.TrainBatches(source, 10, seed=5)
    epochs = [np.concatenate([_ids(batches[e * 5 + i]) for i in range(5)]) for e in range(3)]
    for epoch in epochs:
        np.testing.assert_array_equal(np.sort(epoch), np.arange(50))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch

    # With a batch that does not divide the dataset, batches straddle epochs; the stream of
    # examples still covers each example exactly once per epoch.
    batches = data.TrainBatches(source, 15, seed=5)
    stream = np.concatenate([_ids(batches[p]) for p in range(10)])
    for epoch in range(3):
        np.testing.assert_array_equal(np.sort(stream[epoch * 50 : (epoch + 1) * 50]), np.arange(50))


def test_train_batches_process_slices():
    source = _toy_source()
    whole = data.TrainBatches(source, 10, seed=2)
    parts = [data.TrainBatches(source, 10, 2, process_index=p, process_count=2) for p in (0, 1)]
    for position in (0, 1, 9):
        joined = np.concatenate([part[position]['x'] for part in parts])
        np.testing.assert_array_equal(joined, whole[position]['x'])
        assert len(parts[0][position]['x']) == 5


def test_train_batches_iterate_resumes_exactly():
    batches = data.TrainBatches(_toy_source(), 8, seed=4, prefetch=2)
    iterator = batches.iterate(start=6)
    for position in range(6, 16):
        np.testing.assert_array_equal(_ids(next(iterator)), _ids(batches[position]))
    iterator.close()
    assert 'data-prefetch' not in [t.name for t in threading.enumerate()]
    synchronous = data.TrainBatches(_toy_source(), 8, seed=4, prefetch=0).iterate(start=6)
    np.testing.assert_array_equal(_ids(next(synchronous)), _ids(batches[6]))


def test_train_batches_validation():
    source = _toy_source(50)
    with pytest.raises(ValueError, match='divisible'):
        data.TrainBatches(source, 10, 0, process_index=0, process_count=3)
    with pytest.raises(ValueError, match='larger than the dataset'):
        data.TrainBatches(source, 64, 0)
    with pytest.raises(ValueError, match='process_index'):
        data.TrainBatches(source, 10, 0, process_index=2, process_count=2)


@pytest.mark.parametrize('process_count', [1, 2])
def test_eval_batches_cover_once_with_mask(process_count):
    source = _toy_source(23)
    seen, batch_counts = [], []
    for process_index in range(process_count):
        batches = list(data.eval_batches(source, 10, process_index, process_count))
        batch_counts.append(len(batches))
        for batch, mask in batches:
            assert mask.dtype == np.float32 and mask.shape == (10 // process_count,)
            assert len(batch['x']) == len(mask)
            ids = _ids(batch)
            seen.extend(ids[mask == 1])
            assert np.all(ids[mask == 0] == 22)  # padding repeats the last example
    assert batch_counts == [3] * process_count
    np.testing.assert_array_equal(np.sort(seen), np.arange(23))


def test_eval_batches_in_order(data_dir):
    source, _ = data.open_split('digits8x8', 'test', data_dir)
    batches = list(data.eval_batches(source, 100))
    images = np.concatenate([b['image'][m == 1] for b, m in batches])
    np.testing.assert_array_equal(images, _images(source))
    assert [int(m.sum()) for _, m in batches] == [100, 100, 100, 60]


def test_loader_errors_surface_from_prefetch_thread():
    class Broken:
        def __len__(self):
            return 10

        def __getitem__(self, index):
            raise RuntimeError('cannot read')

    iterator = data.TrainBatches(Broken(), 5, seed=0).iterate(0)
    with pytest.raises(RuntimeError, match='cannot read'):
        next(iterator)


def test_large_splits_are_streamed_not_cached(data_dir, monkeypatch):
    from models.data import sources

    monkeypatch.setattr(sources, 'CACHE_LIMIT_BYTES', 1000)
    source, _ = data.open_split('digits8x8', 'test', data_dir, cache=True)
    assert not isinstance(source, data.ArraySource)
    assert source[0]['image'].shape == (8, 8, 1)
