"""Test set-up: 8 fake CPU devices (set before JAX starts) and a private data cache."""

import os
import sys

os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# One persistent compilation cache for the session: the subprocess tests compile the same
# programs again and again (kill / resume / compare), and cache hits skip most of that.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
    import tempfile

    os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='jax_cache_')
    os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'

import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope='session', autouse=True)
def data_cache(tmp_path_factory):
    """Bundled datasets are prepared once per session here, never in the user's cache."""
    path = os.environ.get('GENMODELS_TEST_DATA_DIR') or str(tmp_path_factory.mktemp('tfds'))
    os.environ['GENMODELS_DATA_DIR'] = path
    return path
