"""The benchmark harness keeps working (its numbers are not checked here: speed is not tested)."""

import math

from experiments.benchmarks import harness


def test_measure_family_times_the_shared_step_and_counts_flops():
    result = harness.measure_family(
        'baselines.pixel_categorical', {}, (4, 4, 1), 17, batch=8, iters=1, repeats=1, sample_num=8
    )
    assert result['devices'] == 8
    assert result['params'] == 4 * 4 * 17
    assert result['step_s'] > 0 and result['sample_s'] > 0
    # XLA counts the global step once, whatever the device count: at least a flop per parameter.
    assert math.isfinite(result['step_flops']) and result['step_flops'] > result['params']


def test_print_table_is_markdown(capsys):
    harness.print_table(['a', 'b'], [[1, 0.12345], ['x', 12345.6]])
    assert capsys.readouterr().out.splitlines() == [
        '| a | b |',
        '|---|---|',
        '| 1 | 0.123 |',
        '| x | 12346 |',
    ]
