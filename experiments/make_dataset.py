"""Turns your arrays (.npz) or a folder of PNGs into a dataset the configs can name.

    python -m experiments.make_dataset --name my_digits --npz data.npz --num-levels 17 \\
        [--image-key image] [--label-key label] [--test-npz test.npz | --test-fraction 0.2]
    python -m experiments.make_dataset --name faces --png-dir faces/ [--num-levels 256] \\
        [--test-fraction 0.1]

An .npz holds integer images [N, H, W] or [N, H, W, C] (or float points [N, D] under `--image-key
x`, no levels) and optionally integer labels [N]. `--num-levels` is required for .npz images:
values 0..16 are 17 levels, and nothing is guessed from the dtype. PNGs are read as they are
(greyscale or RGB, all of one size, 256 levels unless told); a folder whose PNGs sit in
subfolders gets one label per subfolder (sorted names). Without a test set, `--test-fraction` of
the examples (a fixed seeded choice) become the test split. The dataset is written under the data
dir (`$GENMODELS_DATA_DIR`, default ~/.cache/genmodels/tfds, or `--data-dir`), then:

    python -m experiments.run --config experiments/configs/gated_pixelcnn_digits.py \\
        --workdir runs/mine --config.data.name=my_digits
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from models.data import user_datasets


def read_npz(path: str, image_key: str, label_key: str) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        if image_key not in f.files:
            raise ValueError(f'{path} has no array {image_key!r}; it has {f.files}')
        out = {'image' if image_key != 'x' else 'x': f[image_key]}
        if label_key in f.files:
            out['label'] = f[label_key]
    return out


def read_pngs(folder: str) -> tuple[dict[str, np.ndarray], list[str] | None]:
    """Images (and labels from subfolders, with the class names) of every PNG under `folder`."""
    from PIL import Image

    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    entries = []
    if classes:
        for label, name in enumerate(classes):
            sub = os.path.join(folder, name)
            entries += [(os.path.join(sub, f), label) for f in sorted(os.listdir(sub))]
    else:
        entries = [(os.path.join(folder, f), None) for f in sorted(os.listdir(folder))]
    entries = [(p, label) for p, label in entries if p.lower().endswith('.png')]
    if not entries:
        raise ValueError(f'no .png files in {folder} (or in its subfolders)')
    pictures = []
    for path, _ in entries:
        with Image.open(path) as im:
            if im.mode not in ('L', 'RGB'):
                im = im.convert('RGB' if 'A' in im.mode or im.mode == 'P' else 'L')
            pictures.append(np.asarray(im))
    shapes = {p.shape for p in pictures}
    if len(shapes) != 1:
        raise ValueError(f'the PNGs differ in size or channels: {sorted(shapes)[:4]}')
    out = {'image': np.stack(pictures)}
    if classes:
        out['label'] = np.asarray([label for _, label in entries], np.int32)
    return out, classes or None


def split_off(arrays: dict[str, np.ndarray], fraction: float, seed: int = 0):
    if not 0 < fraction < 1:
        raise ValueError(f'--test-fraction must be in (0, 1), got {fraction}')
    n = len(next(iter(arrays.values())))
    test = np.zeros(n, bool)
    test[np.random.default_rng(seed).permutation(n)[: max(1, round(n * fraction))]] = True
    return {
        'train': {k: v[~test] for k, v in arrays.items()},
        'test': {k: v[test] for k, v in arrays.items()},
    }


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--name', required=True, help='the name configs use: config.data.name')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--npz', help='arrays: images (and labels)')
    source.add_argument('--png-dir', help='a folder of PNGs, or of class subfolders of PNGs')
    parser.add_argument('--test-npz', help='the test split as a second .npz')
    parser.add_argument('--test-fraction', type=float, default=0.2)
    parser.add_argument('--num-levels', type=int, default=None, help='values per sub-pixel')
    parser.add_argument('--num-classes', type=int, default=None, help='default: max label + 1')
    parser.add_argument('--image-key', default='image', help='the .npz array of examples')
    parser.add_argument('--label-key', default='label', help='the .npz array of labels, if any')
    parser.add_argument('--data-dir', default=None, help='default: $GENMODELS_DATA_DIR or cache')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        levels = args.num_levels
        if args.npz:
            arrays = read_npz(args.npz, args.image_key, args.label_key)
        else:
            arrays, _ = read_pngs(args.png_dir)
            levels = levels or 256
        if args.test_npz:
            splits = {
                'train': arrays,
                'test': read_npz(args.test_npz, args.image_key, args.label_key),
            }
        else:
            splits = split_off(arrays, args.test_fraction)
        classes = args.num_classes
        if classes is None and 'label' in arrays:
            classes = int(max(s['label'].max() for s in splits.values())) + 1
        path = user_datasets.save(args.name, splits, levels, classes, args.data_dir)
    except (ValueError, OSError) as e:
        sys.exit(f'error: {e}')
    _, spec = user_datasets.open_split(args.name, 'train', args.data_dir)
    sizes = ', '.join(f'{s} {n}' for s, n in spec.split_sizes.items())
    print(
        f'dataset {args.name!r}: {spec.key} {spec.shape}, {spec.num_levels} levels, '
        f'{spec.num_classes} classes; {sizes}'
    )
    print(f'written to {path}; use it with --config.data.name={args.name}')
    return path


if __name__ == '__main__':
    main()
