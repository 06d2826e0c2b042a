"""Small charts drawn with PIL (histograms, line plots), so the commands need no plotting library:
matplotlib would add a heavy dependency to an install the README's first command times."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
WIDTH, HEIGHT = 640, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 50


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


class Axes:
    """A plotting area mapping data (x, y) ranges to pixels, with ticks and labels."""

    def __init__(self, title: str, x_label: str, y_label: str, x_range, y_range):
        self.image = Image.new('RGB', (WIDTH, HEIGHT), 'white')
        self.draw = ImageDraw.Draw(self.image)
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0
        d = self.draw
        d.rectangle([LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM], outline='black')
        d.text((LEFT, 10), title, fill='black')
        d.text(((WIDTH - len(x_label) * 6) // 2, HEIGHT - 18), x_label, fill='black')
        d.text((4, TOP - 16), y_label, fill='black')
        for t in _ticks(self.x0, self.x1):
            x, _ = self.pixel(t, self.y0)
            d.line([x, HEIGHT - BOTTOM, x, HEIGHT - BOTTOM + 4], fill='black')
            d.text((x - 12, HEIGHT - BOTTOM + 6), f'{t:.4g}', fill='black')
        for t in _ticks(self.y0, self.y1):
            _, y = self.pixel(self.x0, t)
            d.line([LEFT - 4, y, LEFT, y], fill='black')
            d.text((4, y - 6), f'{t:.4g}', fill='black')

    def pixel(self, x: float, y: float) -> tuple[float, float]:
        px = LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)
        py = HEIGHT - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)
        return px, py

    def legend(self, names: list[str]) -> None:
        for i, name in enumerate(names):
            y = TOP + 8 + 14 * i
            colour = COLOURS[i % len(COLOURS)]
            self.draw.rectangle([WIDTH - RIGHT - 190, y, WIDTH - RIGHT - 180, y + 10], fill=colour)
            self.draw.text((WIDTH - RIGHT - 175, y - 1), name[:30], fill='black')

    def save(self, path: str) -> None:
        self.image.save(path)


def histograms(path: str, sets: dict[str, np.ndarray], title: str, x_label: str, bins=40):
    """Overlaid histograms (as outlines, so both stay visible) of each named set of values."""
    values = [np.asarray(v, np.float64) for v in sets.values()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    counts = [np.histogram(np.clip(v, low, high), edges)[0] / max(len(v), 1) for v in values]
    axes = Axes(title, x_label, 'fraction', (edges[0], edges[-1]), (0.0, max(map(max, counts))))
    for i, c in enumerate(counts):
        points = []
        for j, height in enumerate(c):
            x0, y = axes.pixel(edges[j], height)
            x1, _ = axes.pixel(edges[j + 1], height)
            points += [(x0, y), (x1, y)]
        _, base = axes.pixel(edges[0], 0.0)
        points = [(points[0][0], base), *points, (points[-1][0], base)]
        axes.draw.line(points, fill=COLOURS[i % len(COLOURS)], width=2)
    axes.legend(list(sets))
    axes.save(path)


def lines(path: str, series: dict[str, tuple[np.ndarray, np.ndarray]], title: str, y_label: str):
    """One polyline (with dots, so a single point shows) per named (steps, values) series."""
    xs = [np.asarray(s, np.float64) for s, _ in series.values()]
    ys = [np.asarray(v, np.float64) for _, v in series.values()]
    all_x, all_y = np.concatenate(xs), np.concatenate(ys)
    ok = np.isfinite(all_y)
    y_low, y_high = (all_y[ok].min(), all_y[ok].max()) if ok.any() else (0.0, 1.0)
    pad = 0.05 * (y_high - y_low or 1.0)
    axes = Axes(title, 'step', y_label, (0.0, all_x.max()), (y_low - pad, y_high + pad))
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        colour = COLOURS[i % len(COLOURS)]
        points = [axes.pixel(a, b) for a, b in zip(x, y, strict=True) if math.isfinite(b)]
        if len(points) > 1:
            axes.draw.line(points, fill=colour, width=2)
        for px, py in points:
            axes.draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour)
    axes.legend(list(series))
    axes.save(path)
