"""Paper vs this repo, side by side, from finished runs.

    python -m experiments.report runs/demo runs/patches_floor

For each workdir it reads `config.json` (whose `expected` holds the paper's numbers) and the last
value of each expected metric in `metrics.jsonl`, and prints a markdown table for WORKSPACE.md.
"""

from __future__ import annotations

import json
import os
import sys

from models.core.metrics import against_expected, read_metrics


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


def main(argv: list[str] | None = None) -> str:
    workdirs = sys.argv[1:] if argv is None else argv
    lines = ['| run | model | data | metric | expected | this repo |', '|---|---|---|---|---|---|']
    for workdir in workdirs:
        lines += ['| ' + ' | '.join(r) + ' |' for r in rows(workdir)]
    table = '\n'.join(lines)
    print(table)
    return table


if __name__ == '__main__':
    main()
