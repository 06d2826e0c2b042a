"""Helpers for tests that run the real entry point in separate processes."""

import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASELINE = os.path.join(ROOT, 'experiments', 'configs', 'pixel_categorical_digits.py')


def env(num_devices: int = 1) -> dict[str, str]:
    e = dict(os.environ)
    e['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={num_devices}'
    e['JAX_PLATFORMS'] = 'cpu'
    e['PYTHONUNBUFFERED'] = '1'
    return e


def command(workdir: str, *overrides: str, config: str = BASELINE) -> list[str]:
    return [
        sys.executable,
        '-m',
        'experiments.run',
        '--config',
        config,
        '--workdir',
        workdir,
        '--config.train.progress=false',
        *overrides,
    ]


def run(workdir: str, *overrides: str, num_devices: int = 1, timeout: float = 300):
    result = subprocess.run(
        command(workdir, *overrides),
        cwd=ROOT,
        env=env(num_devices),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f'run failed ({result.returncode}):\n{result.stdout}\n{result.stderr}')
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
