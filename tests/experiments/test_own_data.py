"""Bringing your own data: a synthetic 8x8, 17-level labelled dataset from an .npz (the levels
stated, never guessed from the dtype), a folder of PNGs with class subfolders, arrays handed to
the trainer in memory, and another compatible dataset for evaluate."""

import numpy as np
import pytest
from PIL import Image

from experiments import evaluate, make_dataset
from experiments.run import load_config
from models.core.loop import train_and_evaluate
from models.data import open_split, user_datasets
from tests.experiments.conftest import BASELINE
from tests.experiments.refusals import refused


def _digits_like(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 17, (n, 8, 8)).astype(np.uint8), rng.integers(0, 3, n)


def test_npz_becomes_a_dataset_with_its_levels_and_labels(tmp_path):
    x, y = _digits_like(100)
    np.savez(tmp_path / 'd.npz', pixels=x, digit=y)
    argv = ['--name', 'syn_npz', '--npz', str(tmp_path / 'd.npz'), '--image-key', 'pixels']
    argv += ['--label-key', 'digit', '--data-dir', str(tmp_path / 'data')]
    with pytest.raises(SystemExit, match='num_levels is required'):
        make_dataset.main(argv)  # a uint8 array is not 256 levels unless the user says so
    make_dataset.main([*argv, '--num-levels', '17', '--test-fraction', '0.25'])
    train, spec = open_split('syn_npz', 'train', str(tmp_path / 'data'))
    test, _ = open_split('syn_npz', 'test', str(tmp_path / 'data'))
    assert (spec.shape, spec.num_levels, spec.num_classes, spec.key) == ((8, 8, 1), 17, 3, 'image')
    assert (len(train), len(test)) == (75, 25)
    both = np.concatenate(
        [[train[i]['image'] for i in range(75)], [test[i]['image'] for i in range(25)]]
    )
    assert sorted(map(bytes, both)) == sorted(map(bytes, x[..., None]))


def test_values_beyond_the_stated_levels_are_refused(tmp_path):
    x, _ = _digits_like(10)
    np.savez(tmp_path / 'd.npz', image=x)
    argv = ['--name', 'bad', '--npz', str(tmp_path / 'd.npz'), '--num-levels', '8']
    with pytest.raises(SystemExit, match='outside the 8 levels'):
        make_dataset.main([*argv, '--data-dir', str(tmp_path)])


def test_png_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(1)
    for label in ('cat', 'dog'):
        (tmp_path / 'pngs' / label).mkdir(parents=True)
        for i in range(5):
            picture = rng.integers(0, 256, (6, 4, 3)).astype(np.uint8)
            Image.fromarray(picture).save(tmp_path / 'pngs' / label / f'{i}.png')
    argv = ['--name', 'pets', '--png-dir', str(tmp_path / 'pngs'), '--data-dir', str(tmp_path)]
    make_dataset.main(argv)
    source, spec = open_split('pets', 'train', str(tmp_path))
    assert (spec.shape, spec.num_levels, spec.num_classes) == ((6, 4, 3), 256, 2)
    assert len(source) == 8 and source[0]['image'].dtype == np.uint8


def test_arrays_in_memory_train_and_evaluate_like_any_dataset(baseline_run, tmp_path):
    x, y = _digits_like(96, seed=2)
    user_datasets.register(
        'noise17', {'train': {'image': x[:64]}, 'test': {'image': x[64:]}}, num_levels=17
    )
    config = load_config(f'{BASELINE}:smoke')
    config.data.name = 'noise17'
    config.train.steps = 2
    config.eval.batch_size = 32
    # The trainer reads it by name; uniform noise of 17 levels is about log2(17) = 4.09 bits/dim.
    trained = train_and_evaluate(config, str(tmp_path))
    assert trained['test/count'] == 32 and 3.9 < trained['test/bpd'] < 4.5
    # A finished digits run evaluated on it: a compatible dataset, far worse than its own test.
    workdir, _, final = baseline_run
    got = evaluate.main(
        ['--workdir', workdir, '--dataset', 'noise17', '--config.eval.batch_size=32']
    )
    assert got['test/count'] == 32 and got['test/bpd'] > final['test/bpd'] + 1.0
    user_datasets.register('wide', {'train': {'image': x.reshape(96, 4, 16)}}, num_levels=17)
    assert 'the model was trained on' in refused(
        evaluate.main, ['--workdir', workdir, '--dataset', 'wide', '--split', 'train']
    )
