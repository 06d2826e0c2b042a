"""experiments.list_configs and report.py's learning curves."""

import os

from PIL import Image

from experiments import list_configs, report
from tests.experiments.refusals import refused


def test_list_names_every_config_with_its_dataset_and_presence(tmp_path):
    table = {row[0]: row for row in list_configs.main(['--data-dir', str(tmp_path)])}
    assert len(table) == len(list_configs.config_paths())
    name, family, data, expected, present = table['gated_pixelcnn_digits']
    assert (family, data, present) == ('autoregressive.gated_pixelcnn', 'digits8x8', 'bundled')
    assert 'test/bpd 1.72' in expected
    assert table['pixelcnn_cifar10'][2:] == ('cifar10', table['pixelcnn_cifar10'][3], 'no')
    assert '3.14' in table['pixelcnn_cifar10'][3]


def test_report_writes_the_table_and_curves_of_several_runs(baseline_run, toy_run, tmp_path):
    workdir, _, _ = baseline_run
    out = tmp_path / 'report'
    table = report.main([workdir, toy_run, '--out', str(out)])
    assert (out / 'report.md').read_text().strip() == table
    names = set(os.listdir(out))
    assert {'bits_per_dim.png', 'model_loss.png', 'a_loss.png', 'b_loss.png'} <= names
    assert not any(n.startswith(('evaluate', 'score', 'steps_per_sec')) for n in names)
    assert Image.open(out / 'bits_per_dim.png').size == (640, 420)


def test_report_refuses_a_directory_that_is_no_workdir(baseline_run, tmp_path):
    workdir, _, _ = baseline_run
    assert 'no config.json' in refused(report.main, [workdir, str(tmp_path)])
