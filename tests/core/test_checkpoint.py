"""Tests for models.core.checkpoint: round trips, retention, corruption fallback, checksums."""

import logging
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from models.core.checkpoint import (
    CHECKSUM_KEY,
    Checkpointer,
    CorruptCheckpointError,
    state_checksum,
)

LOGGER = 'models.core.checkpoint'


def make_state(seed: int = 0, size: int = 64) -> dict:
    keys = jax.random.split(jax.random.key(seed), 4)
    params = {
        'dense': {
            'kernel': jax.random.normal(keys[0], (size, size), jnp.float32),
            'bias': jax.random.normal(keys[1], (size,), jnp.float32),
        },
        'embed': jax.random.normal(keys[2], (8, 4)).astype(jnp.bfloat16),
    }
    opt = optax.adam(1e-3).init(params)
    return {
        'params': params,
        'opt': opt,
        'ema': jax.tree.map(lambda x: x * 0.5, params),
        'step': jnp.int32(100 + seed),
        'rng': jax.random.key_data(keys[3]),
        'data_position': jnp.int32(7 * seed),
        'mask': jnp.arange(5) % 2 == 0,
    }


def abstract_of(state):
    return jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state
    )


def to_host(state):
    return jax.tree.map(lambda x: np.array(x, copy=True), state)


def assert_bitwise_equal(actual, expected):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        a, e = np.asarray(a), np.asarray(e)
        assert a.dtype == e.dtype and a.shape == e.shape
        assert a.tobytes() == e.tobytes()


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= 30]


def flip_middle_byte_of_largest_file(folder) -> str:
    files = [os.path.join(root, f) for root, _, names in os.walk(folder) for f in names]
    largest = max(files, key=os.path.getsize)
    size = os.path.getsize(largest)
    with open(largest, 'r+b') as fh:
        fh.seek(size // 2)
        before = fh.read(1)
        fh.seek(size // 2)
        fh.write(bytes([before[0] ^ 0x04]))
    with open(largest, 'rb') as fh:
        fh.seek(size // 2)
        assert fh.read(1) != before
    return largest


def test_round_trip_is_bitwise(tmp_path):
    state = make_state(size=16)
    assert state['params']['embed'].dtype == jnp.bfloat16
    assert state['rng'].dtype == jnp.uint32 and state['rng'].shape == (2,)
    meta = {
        'config': {'lr': 1e-3, 'layers': [32, 64], 'name': 'gan', 'nested': {'beta': [0.5, 0.9]}},
        'data_position': 12345,
        'big': 2**40,
        'empty': {},
        'tuple': (1, 'a'),
    }
    with Checkpointer(str(tmp_path), keep=3) as ckpt:
        ckpt.save(3, state, meta)
        ckpt.wait()
        assert ckpt.latest_step() == 3 and ckpt.all_steps() == [3]
        restored, restored_meta, step = ckpt.restore(abstract_of(state))
    assert step == 3
    assert_bitwise_equal(restored, state)
    assert isinstance(restored['opt'][0], optax.ScaleByAdamState)
    assert restored_meta == {**meta, 'tuple': [1, 'a']}
    assert CHECKSUM_KEY not in restored_meta


def test_sync_save_and_default_meta(tmp_path):
    state = {'w': jnp.ones((3,))}
    with Checkpointer(str(tmp_path), async_save=False) as ckpt:
        ckpt.save(1, state)
        restored, meta, step = ckpt.restore(abstract_of(state))
    assert meta == {} and step == 1
    assert_bitwise_equal(restored, state)


def test_meta_validation(tmp_path):
    with Checkpointer(str(tmp_path)) as ckpt:
        with pytest.raises(ValueError, match='reserved'):
            ckpt.save(1, {'w': jnp.ones(2)}, {CHECKSUM_KEY: 1})
        with pytest.raises(TypeError, match='not a string'):
            ckpt.save(1, {'w': jnp.ones(2)}, {1: 'x'})
        with pytest.raises(TypeError, match='not JSON'):
            ckpt.save(1, {'w': jnp.ones(2)}, {'x': object()})
        assert ckpt.all_steps() == []


def test_keep_last_n(tmp_path):
    state = {'w': jnp.arange(4.0)}
    with Checkpointer(str(tmp_path), keep=2) as ckpt:
        for step in range(1, 6):
            ckpt.save(step, jax.tree.map(lambda x, s=step: x + s, state))
        ckpt.wait()
        assert ckpt.all_steps() == [4, 5]
        restored, _, step = ckpt.restore(abstract_of(state))
    assert step == 5
    np.testing.assert_array_equal(restored['w'], np.arange(4.0) + 5)
    assert sorted(p for p in os.listdir(tmp_path) if p.isdigit()) == ['4', '5']


def test_flipped_byte_falls_back_to_previous_step(tmp_path, caplog):
    old, new = make_state(seed=1, size=128), make_state(seed=2, size=128)
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(1, old, {'which': 'old'})
        ckpt.save(2, new, {'which': 'new'})
    flip_middle_byte_of_largest_file(tmp_path / '2' / 'state')

    # The premise: Orbax alone either fails or silently returns different values.
    changed = []
    try:
        raw = ocp.StandardCheckpointer().restore(tmp_path / '2' / 'state', abstract_of(new))
    except Exception:  # noqa: BLE001
        pass
    else:
        changed = [
            jax.tree_util.keystr(path)
            for (path, a), b in zip(
                jax.tree_util.tree_flatten_with_path(raw)[0], jax.tree.leaves(new), strict=True
            )
            if np.asarray(a).tobytes() != np.asarray(b).tobytes()
        ]
        assert changed, 'the flipped byte did not change any restored value'

    caplog.set_level(logging.WARNING, logger=LOGGER)
    with Checkpointer(str(tmp_path)) as ckpt:
        restored, meta, step = ckpt.restore(abstract_of(new))
        assert step == 1 and meta == {'which': 'old'}
        assert_bitwise_equal(restored, old)
        messages = warnings_of(caplog)
        assert any('step 2' in m and 'checksum mismatch' in m for m in messages), messages
        assert all(any(name in m for m in messages) for name in changed), (changed, messages)

        # The rejected step is moved aside, so the resumed run can save step 2 again.
        assert ckpt.all_steps() == [1]
        assert (tmp_path / '2.corrupt').is_dir()
        ckpt.save(2, restored)
        ckpt.wait()
        assert ckpt.latest_step() == 2
        again, _, step = ckpt.restore(abstract_of(new))
    assert step == 2
    assert_bitwise_equal(again, old)


def test_empty_latest_step_folder_falls_back(tmp_path, caplog):
    state = make_state(seed=3, size=8)
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(5, state, {'position': 5})
    (tmp_path / '50').mkdir()

    caplog.set_level(logging.WARNING, logger=LOGGER)
    with Checkpointer(str(tmp_path)) as ckpt:
        assert ckpt.latest_step() == 50  # Orbax takes the empty folder for a step.
        result = ckpt.restore(abstract_of(state))
        assert result is not None
        restored, meta, step = result
        assert step == 5 and meta == {'position': 5}
        assert_bitwise_equal(restored, state)
        assert any('step 50' in m for m in warnings_of(caplog))

        # Without moving the empty folder aside, Orbax would refuse to save steps below 50.
        ckpt.save(6, state)
        ckpt.wait()
        assert ckpt.all_steps() == [5, 6]


def test_all_checkpoints_corrupt_raises(tmp_path, caplog):
    state = make_state(seed=4, size=64)
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(1, state)
        ckpt.save(2, state)
    flip_middle_byte_of_largest_file(tmp_path / '1' / 'state')
    (tmp_path / '2' / 'meta' / 'metadata').unlink()
    (tmp_path / '3').mkdir()

    caplog.set_level(logging.WARNING, logger=LOGGER)
    with Checkpointer(str(tmp_path)) as ckpt:
        with pytest.raises(CorruptCheckpointError) as info:
            ckpt.restore(abstract_of(state))
        assert sorted(info.value.failures) == [1, 2, 3]
        assert 'step 1: checksum mismatch' in str(info.value)
        # Nothing is moved aside when nothing could be restored.
        assert ckpt.all_steps() == [1, 2, 3]
    assert len(warnings_of(caplog)) == 3


def test_explicit_step(tmp_path):
    a, b = {'w': jnp.zeros(3)}, {'w': jnp.ones(3)}
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(1, a)
        ckpt.save(2, b)
        restored, _, step = ckpt.restore(abstract_of(a), step=1)
        assert step == 1
        assert_bitwise_equal(restored, a)
        with pytest.raises(FileNotFoundError):
            ckpt.restore(abstract_of(a), step=7)
        (tmp_path / '2' / 'meta' / 'metadata').unlink()
        # An explicitly requested step never silently turns into another one.
        with pytest.raises(CorruptCheckpointError):
            ckpt.restore(abstract_of(a), step=2)


def test_empty_directory_returns_none(tmp_path):
    with Checkpointer(str(tmp_path / 'fresh')) as ckpt:
        assert ckpt.latest_step() is None and ckpt.all_steps() == []
        assert ckpt.restore(abstract_of({'w': jnp.zeros(2)})) is None


@pytest.mark.parametrize(
    'dtype', [jnp.float32, jnp.bfloat16, jnp.float16, jnp.int32, jnp.uint32, jnp.int8, jnp.uint8]
)
def test_checksum_detects_one_ulp_and_swaps(dtype):
    values = np.asarray(jax.random.normal(jax.random.key(0), (4, 6)) * 50).astype(dtype)
    if jnp.issubdtype(dtype, jnp.floating):
        values.flat[3] = -values.flat[2]  # a pair that differs only in the sign bit
    values.flat[5] = 0
    unsigned = np.dtype(f'uint{values.dtype.itemsize * 8}')
    base = state_checksum({'x': jnp.asarray(values)})["['x']"]
    seen = {base}
    for i in range(values.size):
        # +1 on the bit pattern: one ulp for floats, +1 (with wrap-around) for integers.
        bumped = values.copy()
        bumped.view(unsigned).flat[i] += 1
        checksum = state_checksum({'x': jnp.asarray(bumped)})["['x']"]
        assert checksum != base, f'one-ulp change at {i} not detected'
        seen.add(checksum)
    for i in range(values.size):
        for j in range(i + 1, values.size):
            if values.flat[i] == values.flat[j]:
                continue
            swapped = values.copy()
            swapped.flat[i], swapped.flat[j] = values.flat[j], values.flat[i]
            checksum = state_checksum({'x': jnp.asarray(swapped)})["['x']"]
            assert checksum != base, f'swap of {i} and {j} not detected'
            seen.add(checksum)
    assert len(seen) > 0.99 * (1 + values.size + values.size * (values.size - 1) // 2)


def test_checksum_bool_key_and_host_leaves():
    mask = np.array([True, False, True, True])
    base = state_checksum({'m': jnp.asarray(mask)})
    for i in range(mask.size):
        flipped = mask.copy()
        flipped[i] = not flipped[i]
        assert state_checksum({'m': jnp.asarray(flipped)}) != base
    # numpy leaves hash exactly like the jax arrays they restore to.
    state = make_state(seed=5, size=4)
    assert state_checksum(to_host(state)) == state_checksum(state)
    # Typed keys are hashed through their key data.
    key = jax.random.key(0)
    assert (
        state_checksum({'k': key})["['k']"]
        == state_checksum({'k': jax.random.key_data(key)})["['k']"]
    )
    assert state_checksum({'k': key}) != state_checksum({'k': jax.random.key(1)})
    assert state_checksum({}) == {}


def test_checksum_64_bit_and_complex():
    with jax.enable_x64(True):
        leaves = {
            'f64': jnp.arange(6, dtype=jnp.float64) / 3,
            'i64': jnp.arange(6, dtype=jnp.int64) << 33,
            'c64': jnp.arange(3, dtype=jnp.complex64) * (1 + 2j),
            'c128': jnp.arange(3, dtype=jnp.complex128) * (1 - 2j),
            'scalar': jnp.float64(1 / 3),
        }
        base = state_checksum(leaves)
        assert base == state_checksum(to_host(leaves))
        for name, leaf in leaves.items():
            # Only the high word of one element changes.
            if leaf.ndim == 0:
                bumped = leaf * 2
            else:
                bumped = leaf.at[1].add(2**40 if leaf.dtype == jnp.int64 else 1e6)
            assert state_checksum({**leaves, name: bumped})[f"['{name}']"] != base[f"['{name}']"]


def test_save_survives_donation_of_live_buffers(tmp_path):
    # 32 MiB so that the background write is typically still running when the buffers are
    # donated (on CPU, JAX then refuses the donation because Orbax holds a host view; on
    # accelerators Orbax holds a real host copy). Either way the saved values must be intact.
    big = jax.random.normal(jax.random.key(0), (8192, 1024))
    state = {'big': big, 'small': jnp.arange(8.0), 'step': jnp.int32(1)}
    expected = to_host(state)

    # The output must depend on the input: jit prunes unused arguments, which are then not donated.
    donate = jax.jit(lambda s: jax.tree.map(lambda x: x * 0 + 7, s), donate_argnums=0)
    with Checkpointer(str(tmp_path), async_save=True) as ckpt:
        ckpt.save(1, state)
        state = donate(state)
        state = donate(state)
        ckpt.save(2, state)
        state = donate(state)
        ckpt.wait()
        abstract = abstract_of(jax.tree.map(jnp.asarray, expected))
        first, _, _ = ckpt.restore(abstract, step=1)
        second, _, _ = ckpt.restore(abstract, step=2)
    assert_bitwise_equal(first, expected)
    assert_bitwise_equal(second, jax.tree.map(lambda x: np.full_like(x, 7), expected))


def test_restore_uses_requested_sharding(tmp_path):
    mesh = Mesh(np.array(jax.devices()[:1]), ('data',))
    state = {'w': jnp.arange(8.0).reshape(4, 2), 'step': jnp.int32(3)}
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(1, state)
        shardings = {
            'w': NamedSharding(mesh, P('data', None)),
            'step': NamedSharding(mesh, P()),
        }
        abstract = jax.tree.map(
            lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), state, shardings
        )
        restored, _, _ = ckpt.restore(abstract)
    for name in state:
        assert restored[name].sharding == shardings[name]
    assert_bitwise_equal(restored, state)


_MULTI_DEVICE_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from models.core.checkpoint import Checkpointer, state_checksum

    assert jax.device_count() == 2, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ('data',))
    host = {'w': np.arange(24, dtype=np.float32).reshape(6, 4), 'b': np.arange(5, dtype=np.int32)}
    sharded = {
        'w': jax.device_put(host['w'], NamedSharding(mesh, P('data', None))),
        'b': jax.device_put(host['b'], NamedSharding(mesh, P())),
    }
    assert state_checksum(sharded) == state_checksum(host)
    ckpt = Checkpointer(sys.argv[1])
    ckpt.save(1, sharded)
    # Restore the data-sharded kernel as replicated.
    want = {'w': NamedSharding(mesh, P()), 'b': NamedSharding(mesh, P())}
    abstract = {
        k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=want[k]) for k, v in host.items()
    }
    restored, _, step = ckpt.restore(abstract)
    ckpt.close()
    assert step == 1
    for k in host:
        assert restored[k].sharding == want[k]
        np.testing.assert_array_equal(np.asarray(restored[k]), host[k])
    print('OK')
    """
)


def test_sharded_over_two_devices(tmp_path):
    env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=2')
    env['JAX_PLATFORMS'] = 'cpu'
    proc = subprocess.run(
        [sys.executable, '-c', _MULTI_DEVICE_SCRIPT, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and 'OK' in proc.stdout, proc.stderr[-3000:]
