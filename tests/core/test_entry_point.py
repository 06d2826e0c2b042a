"""The entry point's process-level options, run as a user would run them."""

from tests.core import subprocess_runs as sp


def test_cpu_devices_option_splits_the_host(tmp_path):
    result = sp.run(
        str(tmp_path),
        '--config.mesh.cpu_devices=2',
        '--config.train.steps=2',
        '--config.train.checkpoint_every=0',
        num_devices=1,
    )
    assert 'mesh: 2 cpu device(s) over 1 process(es)' in result.stderr
