"""Paper vs this repo, side by side, from finished runs, and their learning curves.

    python -m experiments.report runs/demo runs/patches_floor [--out DIR]

For each workdir it reads `config.json` (whose `expected` holds the paper's numbers) and the last
value of each expected metric in `metrics.jsonl`, and prints a markdown table for WORKSPACE.md.
With `--out DIR` it also writes the table as DIR/report.md and the learning curves of all the
workdirs together: DIR/bits_per_dim.png (train `bpd/total` and `test/bpd` against steps, where
logged) and one DIR/<metric>.png for every other metric the runs logged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from models.core.metrics import against_expected, read_metrics

# Logged for the machine, not for a learning curve; or written by the commands over finished runs.
_NOT_CURVES = ('steps_per_sec', 'test/count', 'nonfinite/', 'evaluate/', 'score/')


def rows(workdir: str) -> list[tuple[str, str, str, str, str]]:
    with open(os.path.join(workdir, 'config.json')) as f:
        config = json.load(f)
    latest: dict[str, tuple[int, float]] = {}
    for line in read_metrics(workdir):
        for key, value in line.items():
            if key != 'step':
                latest[key] = (line['step'], value)
    expected = config.get('expected', {})
    flagged = {
        key: far
        for key, _, _, far in against_expected({k: v for k, (_, v) in latest.items()}, expected)
    }
    out = []
    for key, paper in expected.items():
        if key == 'tolerance' or not isinstance(paper, (int, float)):
            continue
        step, ours = latest.get(key, (None, None))
        ours_text = 'not logged' if ours is None else f'{ours:.4g} (step {step})'
        if flagged.get(key):
            ours_text += ' FAR FROM EXPECTED'
        out.append(
            (
                os.path.basename(os.path.normpath(workdir)),
                config['model'],
                config['data']['name'],
                key,
                f'{paper} | {ours_text}',
            )
        )
    return out


def _run_name(workdir: str) -> str:
    return os.path.basename(os.path.normpath(workdir))


def series(workdirs: list[str]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """{metric: {run: (steps, values)}} of every metric worth a learning curve."""
    out: dict[str, dict[str, tuple[list, list]]] = {}
    for workdir in workdirs:
        for line in read_metrics(workdir):
            for key, value in line.items():
                if key == 'step' or key.startswith(_NOT_CURVES):
                    continue
                steps, values = out.setdefault(key, {}).setdefault(_run_name(workdir), ([], []))
                steps.append(line['step'])
                values.append(value)
    return {
        k: {r: (np.asarray(s), np.asarray(v)) for r, (s, v) in runs.items()}
        for k, runs in out.items()
    }


def write_curves(workdirs: list[str], out_dir: str) -> list[str]:
    """The learning-curve PNGs of `workdirs` in `out_dir`; returns their paths."""
    from experiments import plots

    os.makedirs(out_dir, exist_ok=True)
    curves = series(workdirs)
    written = []
    bpd = {}
    for metric, label in (('bpd/total', 'train'), ('test/bpd', 'test')):
        for run, points in curves.pop(metric, {}).items():
            bpd[f'{run} {label}'] = points
    if bpd:
        path = os.path.join(out_dir, 'bits_per_dim.png')
        plots.lines(path, bpd, 'bits/dim: train (running mean) and test', 'bits/dim')
        written.append(path)
    for metric, runs in sorted(curves.items()):
        path = os.path.join(out_dir, metric.replace('/', '_') + '.png')
        plots.lines(path, runs, metric, metric)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('workdirs', nargs='+', help='finished (or running) workdirs')
    parser.add_argument('--out', default=None, help='write report.md and curve PNGs here')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    for workdir in args.workdirs:
        if not os.path.exists(os.path.join(workdir, 'config.json')):
            sys.exit(f'error: {workdir} has no config.json: not a workdir of experiments.run')
    lines = ['| run | model | data | metric | expected | this repo |', '|---|---|---|---|---|---|']
    for workdir in args.workdirs:
        lines += ['| ' + ' | '.join(r) + ' |' for r in rows(workdir)]
    table = '\n'.join(lines)
    print(table)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, 'report.md'), 'w') as f:
            f.write(table + '\n')
        for path in write_curves(args.workdirs, args.out):
            print(f'wrote {path}')
    return table


if __name__ == '__main__':
    main()
