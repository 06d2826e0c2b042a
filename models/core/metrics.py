"""Likelihood units and metric logging (JSONL and TensorBoard, process 0 only).

Convention: `log_prob` is in nats per example of the *discrete* data. A flow's density over data
dequantised to [0, 1) counts the log-volume of a bin, D * log(1 / K), and the dequantiser's
log q (models/flows/density.py), so that bits/dim are comparable with exact discrete likelihoods
(PixelCNN) and with the papers' dequantised bounds.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

LN2 = math.log(2.0)


def bits_per_dim(nll_nats: Any, num_dims: int) -> Any:
    """Negative log-likelihood in nats per example -> bits per dimension."""
    return nll_nats / (num_dims * LN2)


# How far (relative) a finished run's metric may sit from config.expected before it is flagged;
# a config sets its own as `expected.tolerance`.
DEFAULT_TOLERANCE = 0.1


def against_expected(
    measured: Mapping[str, float], expected: Mapping[str, Any]
) -> list[tuple[str, float, float, bool]]:
    """(metric, expected, measured, far?) for every numeric expected metric that was measured;
    far when |measured - expected| > tolerance * |expected| (a diverged or broken run)."""
    tolerance = float(expected.get('tolerance', DEFAULT_TOLERANCE))
    rows = []
    for key, value in expected.items():
        if key == 'tolerance' or not isinstance(value, (int, float)) or key not in measured:
            continue
        got = float(measured[key])
        far = not abs(got - value) <= tolerance * abs(value)  # nan is far too
        rows.append((key, float(value), got, far))
    return rows


def summarize(history: list[Mapping[str, Any]]) -> dict[str, float]:
    """Mean of each metric over the steps since the last log (host values)."""
    if not history:
        return {}
    out = {}
    for k in history[0]:
        values = np.asarray([h[k] for h in history], np.float64)
        # Counters (skipped steps, first bad step) are reported as their latest value.
        out[k] = float(values[-1]) if k.startswith('nonfinite/') else float(values.mean())
    return out


class MetricWriter:
    """Appends `{'step': s, **metrics}` lines to metrics.jsonl and TensorBoard scalars.

    `resume_step`: the step the run restarts from. Lines of later steps (written by a run that was
    killed before its next checkpoint, and about to be written again) are dropped from the log,
    and TensorBoard is told to purge its events from the step after.
    """

    def __init__(self, workdir: str, enabled: bool = True, resume_step: int = 0):
        self.enabled = enabled
        self._tb = None
        self._file = None
        if not enabled:
            return
        os.makedirs(workdir, exist_ok=True)
        path = os.path.join(workdir, 'metrics.jsonl')
        _truncate_after(path, resume_step)
        self._file = open(path, 'a')  # noqa: SIM115
        from tensorboardX import SummaryWriter

        self._tb = SummaryWriter(os.path.join(workdir, 'tensorboard'), purge_step=resume_step + 1)

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        clean = {k: float(v) for k, v in metrics.items()}
        self._file.write(json.dumps({'step': int(step), **clean}) + '\n')
        self._file.flush()
        for k, v in clean.items():
            self._tb.add_scalar(k, v, int(step))
        self._tb.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()
        if self._tb:
            self._tb.close()


def _truncate_after(path: str, step: int) -> None:
    """Keeps the lines of steps <= `step` (atomically: a kill leaves the old or the new log)."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    kept = [line for line in lines if json.loads(line)['step'] <= step]
    if len(kept) == len(lines):
        return
    with open(path + '.tmp', 'w') as f:
        f.writelines(kept)
    os.replace(path + '.tmp', path)


def read_metrics(workdir: str) -> list[dict[str, float]]:
    path = os.path.join(workdir, 'metrics.jsonl')
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
