"""Anomaly scores from a finished likelihood run: per-example bits/dim of a split and of a second
set, a histogram of both, and the AUROC of telling the second set from the first by bits/dim.

    python -m experiments.score --workdir runs/demo [--split test] \\
        --against noise|invert|flip|SPLIT|DATASET:SPLIT [--out PREFIX]

The second set is uniform noise of the same shape and levels (`noise`), the split inverted
(`invert`: level k -> K-1-k) or mirrored left-right (`flip`), another split of the run's dataset
(`train`, or the split itself as a sanity check: AUROC 0.5), or a split of another dataset of the
same shape and levels. Writes PREFIX.png (the histograms, the AUROC in the title) and PREFIX.npz
(both sets' bits/dim), and appends the AUROC and mean bits/dim to the run's metrics.jsonl as
`score/<split>_vs_<against>/...`. PREFIX defaults to <workdir>/scores/<split>_vs_<against>.
"""

from __future__ import annotations

import os

import numpy as np

from experiments import finished_run, plots, scoring


def require(family, spec) -> None:
    if family.log_prob is None:
        raise finished_run.RunError('scoring needs a likelihood family (a log_prob); this has none')
    if spec is None or spec.num_levels is None:
        raise finished_run.RunError('scoring in bits/dim needs discrete data (num_levels)')


def second_set(run, against: str, first):
    """The source to compare with the first split, and whether it came from another dataset."""
    if against in scoring.TRANSFORMS:
        return scoring.transformed(first, run.spec, against, seed=run.config.data.seed)
    from models.data import open_split

    name, _, split = against.rpartition(':')
    name = name or run.config.data.name
    source, spec = open_split(name, split, run.config.data.data_dir or None, cache=True)
    now = run.spec
    if (spec.shape, spec.num_levels, spec.key) != (now.shape, now.num_levels, now.key):
        raise finished_run.RunError(
            f'{against}: {spec.key} {spec.shape} with {spec.num_levels} levels; the run models '
            f'{now.key} {now.shape} with {now.num_levels} levels'
        )
    if now.num_classes and spec.num_classes != now.num_classes:
        raise finished_run.RunError(f'{against}: labels do not match the class-conditional model')
    return source


def command(args, overrides):
    saved = finished_run.saved_config(args.workdir)
    split = args.split or saved.data.eval_split
    ours = [f'--config.data.eval_split={split}', f'--config.eval.use_ema={args.params == "ema"}']
    with finished_run.open_run(args.workdir, [*overrides, *ours], require) as run:
        first = run.trainer.inputs.eval_source
        second = second_set(run, args.against, first)
        inliers = scoring.per_example_bits(run, first)
        outliers = scoring.per_example_bits(run, second)
        area = scoring.auroc(inliers, outliers)
        name = f'{split}_vs_{args.against.replace(":", "-").replace("/", "-")}'
        prefix = args.out or os.path.join(args.workdir, 'scores', name)
        os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
        plots.histograms(
            prefix + '.png',
            {f'{split} ({len(inliers)})': inliers, f'{args.against} ({len(outliers)})': outliers},
            f'{saved.model} step {run.step}: bits/dim per example, AUROC {area:.3f}',
            'bits/dim',
        )
        np.savez(prefix + '.npz', first=inliers, second=outliers, auroc=area)
        metrics = {
            'auroc': area,
            'first_bpd': float(np.mean(inliers)),
            'second_bpd': float(np.mean(outliers)),
        }
        finished_run.record(args.workdir, run.step, f'score/{name}', metrics)
        print(
            f'{split}: {metrics["first_bpd"]:.4f} bits/dim (mean of {len(inliers)}); '
            f'{args.against}: {metrics["second_bpd"]:.4f} (mean of {len(outliers)})'
        )
        print(f'AUROC ({args.against} flagged by higher bits/dim): {area:.4f}')
        print(f'wrote {prefix}.png and {prefix}.npz')
        return inliers, outliers, area


def parser():
    p = finished_run.command_parser(__doc__.splitlines()[0])
    p.add_argument('--split', default=None, help="default: the run's eval split (test)")
    p.add_argument(
        '--against', required=True, help='noise, invert, flip, a split, or DATASET:SPLIT'
    )
    p.add_argument('--params', choices=('ema', 'raw'), default='ema', help='EMA or raw params')
    p.add_argument('--out', default=None, help='path prefix of the .png and .npz')
    return p


main = finished_run.main_of(command, parser())

if __name__ == '__main__':
    main()
