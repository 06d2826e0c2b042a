"""Every experiment config: its family, dataset, the paper's (or measured) number, and whether its
dataset can be read here without a download.

    python -m experiments.list_configs [--data-dir DIR]

`present` is `bundled` for the datasets built from scikit-learn / scikit-image or generated in
code, `yes` for a prepared tfds copy or your own saved arrays in the data dir, and `no` otherwise
(WORKSPACE.md, Datasets, says how to prepare one).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

from experiments.run import load_config

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs')


def config_paths() -> list[str]:
    names = sorted(glob.glob(os.path.join(CONFIG_DIR, '*.py')))
    return [p for p in names if not os.path.basename(p).startswith('_')]


def presence(name: str, data_dir: str) -> str:
    from models.data import builders, synthetic2d, user_datasets

    if not name:
        return 'none needed'
    if name in builders.BUILDERS or name in synthetic2d.NAMES:
        return 'bundled'
    if os.path.exists(os.path.join(data_dir, user_datasets.FOLDER, name, 'spec.json')):
        return 'yes (yours)'
    import logging

    import tensorflow_datasets as tfds

    # tfds warns about every half-prepared folder it walks past; 'no' says it all here.
    logging.getLogger('absl').setLevel(logging.ERROR)
    try:
        return 'yes' if tfds.builder(name, data_dir=data_dir).is_prepared() else 'no'
    except Exception:  # noqa: BLE001 - an unknown or unreadable dataset is simply not here
        return 'no'


def paper_number(expected) -> str:
    numbers = [
        f'{k} {v}'
        for k, v in expected.items()
        if k != 'tolerance' and isinstance(v, int | float) and not isinstance(v, bool)
    ]
    source = str(expected.get('source', ''))
    source = source if len(source) <= 40 else source[:37] + '...'
    text = ', '.join(numbers) or '-'
    return f'{text} ({source})' if source and numbers else text


def rows(data_dir: str) -> list[tuple[str, str, str, str, str]]:
    out = []
    for path in config_paths():
        config = load_config(path)
        name = config.data.name
        out.append(
            (
                os.path.splitext(os.path.basename(path))[0],
                config.model,
                name or '-',
                paper_number(config.expected),
                presence(name, config.data.data_dir or data_dir),
            )
        )
    return out


def main(argv: list[str] | None = None) -> list[tuple[str, ...]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-dir', default=None, help='default: $GENMODELS_DATA_DIR or cache')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from models.data import default_data_dir

    table = rows(args.data_dir or default_data_dir())
    header = ('config', 'family', 'dataset', 'expected', 'present')
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for r in [header, *table]:
        print('  '.join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return table


if __name__ == '__main__':
    main()
