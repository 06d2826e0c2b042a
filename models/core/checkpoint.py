"""Checkpointing of training state with integrity checks and automatic fallback.

The training state is a pytree of (possibly sharded, possibly multi-process) jax arrays. It is
written with Orbax together with a small JSON ``meta`` record (config, data-loader position, ...)
and a per-leaf checksum of the state.

Why a checksum on top of Orbax: Orbax does not notice a flipped byte inside an array data file (the
restore silently yields wrong values), and it treats an empty or half-deleted step folder as a
valid step (it becomes the "latest" one). ``Checkpointer.restore`` therefore recomputes the
checksum of what it read and, if a step cannot be read or does not match, warns and falls back to
the previous step. If every step fails it raises ``CorruptCheckpointError``: a run must never
silently start from scratch while checkpoints exist.

Checksum scheme (version 1)
---------------------------
Each leaf is reinterpreted as a flat stream of uint32 words ``w[i]`` in row-major order, where
``i`` is the word's linear index (mod 2**32):

* 32-bit dtypes are bitcast; 16- and 8-bit dtypes (bfloat16, float16, int8, uint8, float8, ...)
  are bitcast to the unsigned type of their width and zero-extended; bool becomes 0/1; sub-byte
  integer types are widened to int32 first;
* 64-bit dtypes are bitcast to uint32 pairs (low word first), complex dtypes are split into
  (real, imag) first;
* typed PRNG key arrays are hashed through ``jax.random.key_data``.

Two 32-bit sums with wrapping uint32 arithmetic are computed and packed as ``hi << 32 | lo``:

* ``lo = sum_i w[i] * (2*i + 1)``. The weight of every position is odd, hence invertible mod
  2**32, so a change confined to one element (any bit flip, a one-ulp change) always changes
  ``lo``. Swapping distinct values ``a``, ``b`` at positions ``i``, ``j`` changes it by
  ``2 * (i - j) * (b - a)``, which is non-zero unless the two factors together hold 31 factors of
  two (e.g. ``a`` and ``b`` differ only in the sign bit).
* ``hi = sum_i fmix32(w[i] ^ fmix32(i + 0x9E3779B9))`` with ``fmix32`` the MurmurHash3 finaliser,
  a bijection of uint32. A change confined to one element always changes ``hi`` as well; a swap
  or any larger (e.g. block-shuffled or random) corruption changes it except with probability
  about 2**-32, including the structured cases that ``lo`` misses.

The sums are global reductions in jitted functions (one per leaf shape), so sharded and
multi-process arrays are hashed where they live (no host gather, every process gets the same
numbers) and all leaves' sums come back to the host in one batch of transfers. Leaves that are
host (numpy) arrays are converted to words on the host with exactly the same layout, so a numpy
leaf and the jax array restored from it agree.

Async saving and buffer donation
--------------------------------
With the default options (no device-to-host byte limit) Orbax 0.12 transfers every array to host
memory inside ``CheckpointManager.save`` (``replica_slices.transfer_arrays_to_host`` blocks until
the copies are done) and only writes files in the background. On accelerators this is a real copy;
on the CPU backend the host "copy" is a zero-copy numpy view, and JAX does not donate a buffer that
still has such an external reference (it copies instead). So once ``save`` returns, the next train
step may donate or overwrite the state; ``tests/test_checkpoint.py`` checks this. The checksum is
dispatched on the same buffers before Orbax sees them, so it is of exactly what is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from models.core.cold import cold_jit
from models.core.mesh import to_host

logger = logging.getLogger(__name__)

# Key under which the state checksum is stored inside the meta JSON; users may not use it.
CHECKSUM_KEY = '__state_checksum__'
CHECKSUM_VERSION = 1

_STATE = 'state'
_META = 'meta'
_GOLDEN = 0x9E3779B9
# Mismatching leaf names listed in one warning / error line; the rest are counted.
_MAX_LEAVES_IN_MESSAGE = 20


class CorruptCheckpointError(RuntimeError):
    """Checkpoints exist but none of them could be restored intact.

    ``failures`` maps each step that was tried to the reason it was rejected.
    """

    def __init__(self, directory: str, failures: dict[int, str], hint: str = ''):
        self.directory = directory
        self.failures = dict(failures)
        lines = [f'  step {step}: {reason}' for step, reason in self.failures.items()]
        super().__init__(
            f'No intact checkpoint in {directory}; refusing to start from scratch. '
            'Tried:\n' + '\n'.join(lines) + (f'\n{hint}' if hint else '')
        )


# --------------------------------------------------------------------------------------------
# Checksum.
# --------------------------------------------------------------------------------------------


def _host_words(x: np.ndarray) -> np.ndarray:
    """uint32 words of a host array, laid out exactly like ``_device_words`` does on device."""
    x = np.ascontiguousarray(x)
    dtype = x.dtype
    if dtype == np.bool_:
        return x.astype(np.uint32)
    if np.issubdtype(dtype, np.complexfloating):
        parts = np.stack([x.real, x.imag], axis=-1)
        return _host_words(parts)
    if _is_sub_byte(dtype):
        return x.astype(np.int32).view(np.uint32)
    bits = dtype.itemsize * 8
    if bits == 64:
        # A trailing unit axis first: numpy cannot change the itemsize of a 0-d view, and the
        # word pair must become its own axis as on device.
        return x.reshape(*x.shape, 1).view(np.uint32)
    if bits == 32:
        return x.view(np.uint32)
    if bits in (8, 16):
        return x.view(np.dtype(f'uint{bits}')).astype(np.uint32)
    raise TypeError(f'state_checksum: unsupported dtype {dtype}')


def _is_sub_byte(dtype) -> bool:
    # ml_dtypes' int4/uint4/int2... report itemsize 1 but have fewer bits.
    try:
        return jnp.iinfo(dtype).bits < 8
    except ValueError:
        return False


def _device_words(x: jax.Array) -> jax.Array:
    """Reinterprets a leaf (inside jit) as uint32 words; trailing axes are added for wide types."""
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    dtype = x.dtype
    if dtype == jnp.bool_:
        return x.astype(jnp.uint32)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return _device_words(jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1))
    if _is_sub_byte(dtype):
        return jax.lax.bitcast_convert_type(x.astype(jnp.int32), jnp.uint32)
    bits = dtype.itemsize * 8
    if bits == 32 or bits == 64:
        # 64-bit types gain a trailing axis of two words, low word first.
        return jax.lax.bitcast_convert_type(x, jnp.uint32)
    if bits in (8, 16):
        unsigned = jnp.uint8 if bits == 8 else jnp.uint16
        return jax.lax.bitcast_convert_type(x, unsigned).astype(jnp.uint32)
    raise TypeError(f'state_checksum: unsupported dtype {dtype}')


def _fmix32(h: jax.Array) -> jax.Array:
    """MurmurHash3 32-bit finaliser: a bijection on uint32 with good avalanche."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def _linear_index(shape: tuple[int, ...]) -> jax.Array:
    """Row-major linear index (mod 2**32) of every element, built from iotas.

    Built per axis rather than by flattening the words so that the computation keeps the input's
    sharding instead of forcing a reshape of a sharded array.
    """
    index = jnp.zeros(shape, jnp.uint32)
    stride = 1
    for axis in reversed(range(len(shape))):
        iota = jax.lax.broadcasted_iota(jnp.uint32, shape, axis)
        index = index + iota * jnp.uint32(stride % 2**32)
        stride *= shape[axis]
    return index


def _leaf_sums(words: jax.Array) -> jax.Array:
    index = _linear_index(words.shape)
    lo = jnp.sum(words * (index * jnp.uint32(2) + jnp.uint32(1)), dtype=jnp.uint32)
    hi = jnp.sum(_fmix32(words ^ _fmix32(index + jnp.uint32(_GOLDEN))), dtype=jnp.uint32)
    return jnp.stack([lo, hi])


# One jitted function per leaf, compiled once per leaf shape and dtype. As one function over all
# leaves (some 30 operations each) it compiled for 37 s on a CPU core for the 2,273 leaves of the
# paper's PixelCNN++ state with Adam and EMA; per leaf, with its 17 distinct shapes, in 2.5 s.
# It runs only at checkpoints, so it is compiled without optimisation (`cold_jit`).
_leaf_checksum = cold_jit(lambda leaf: _leaf_sums(_device_words(leaf)))


def state_checksum(state: Any) -> dict[str, int]:
    """Per-leaf 64-bit checksum of a pytree, keyed by ``jax.tree_util.keystr`` of the leaf path.

    See the module docstring for the scheme. Jax arrays are hashed on device by one jitted global
    reduction (works for sharded and multi-process arrays; every process must call this, as for any
    collective); numpy leaves are converted to words on the host first. Python scalars are hashed
    as numpy would store them (e.g. int64), so keep state leaves as arrays.
    """
    paths_and_leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    if not paths_and_leaves:
        return {}
    names = [jax.tree_util.keystr(path) for path, _ in paths_and_leaves]
    if len(set(names)) != len(names):
        raise ValueError('state_checksum: leaf paths are not unique')
    inputs = [
        leaf if isinstance(leaf, jax.Array) else _host_words(np.asarray(leaf))
        for _, leaf in paths_and_leaves
    ]
    sums = np.stack(to_host([_leaf_checksum(leaf) for leaf in inputs])).astype(np.uint64)
    return {name: int(lo) | (int(hi) << 32) for name, (lo, hi) in zip(names, sums, strict=True)}


def _checksum_problem(expected: Any, actual: dict[str, int]) -> str | None:
    """Why a stored checksum record does not match ``actual``; None when it matches."""
    if not isinstance(expected, Mapping):
        return 'no state checksum recorded in meta'
    if expected.get('version') != CHECKSUM_VERSION:
        return f'unknown checksum version {expected.get("version")!r}'
    stored = expected.get('leaves')
    if not isinstance(stored, Mapping):
        return 'malformed checksum record in meta'
    bad = [name for name, value in actual.items() if stored.get(name) != value]
    missing = [name for name in stored if name not in actual]
    if not bad and not missing:
        return None
    parts = []
    if bad:
        shown = ', '.join(bad[:_MAX_LEAVES_IN_MESSAGE])
        more = (
            f' (+{len(bad) - _MAX_LEAVES_IN_MESSAGE} more)'
            if len(bad) > _MAX_LEAVES_IN_MESSAGE
            else ''
        )
        parts.append(f'checksum mismatch in {len(bad)} leaves: {shown}{more}')
    if missing:
        shown = ', '.join(missing[:_MAX_LEAVES_IN_MESSAGE])
        parts.append(f'saved leaves absent from the restored state: {shown}')
    return '; '.join(parts)


# --------------------------------------------------------------------------------------------
# Meta JSON.
# --------------------------------------------------------------------------------------------


def _to_json(value: Any, where: str = 'meta') -> Any:
    """Normalises ``meta`` to plain JSON types, failing here rather than in Orbax's writer thread.

    Tuples become lists and numpy scalars/arrays become Python numbers/lists; dict keys must be
    strings because JSON would silently turn other keys into strings.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f'{where}: key {key!r} is not a string')
            out[key] = _to_json(item, f'{where}[{key!r}]')
        return out
    if isinstance(value, list | tuple):
        return [_to_json(item, f'{where}[{i}]') for i, item in enumerate(value)]
    raise TypeError(f'{where}: {type(value).__name__} is not JSON serialisable')


# --------------------------------------------------------------------------------------------
# Checkpointer.
# --------------------------------------------------------------------------------------------


class Checkpointer:
    """Saves and restores ``(state, meta)`` pairs under ``directory/<step>``.

    Args:
      directory: Root directory (created if missing); any path Orbax/epath understands.
      keep: Number of most recent steps kept on disk.
      async_save: Write files in a background thread. ``save`` still returns only after the
        arrays have been copied off the live buffers (see module docstring).

    All processes of a multi-process job must call ``save`` and ``restore`` together.
    """

    def __init__(self, directory: str, keep: int = 3, async_save: bool = True):
        self.directory = epath.Path(directory)
        self._name_format = ocp.step.standard_name_format()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            create=True,
            enable_async_checkpointing=async_save,
            step_name_format=self._name_format,
        )
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=options,
            item_names=(_STATE, _META),
        )

    # -- saving ---------------------------------------------------------------------------------

    def save(self, step: int, state: Any, meta: dict | None = None, force: bool = False) -> None:
        """Saves ``state`` and ``meta`` (JSON) as ``step``, with a checksum of ``state``.

        Returns once the arrays are copied off the device buffers; the files are written in the
        background when ``async_save`` is on (call ``wait`` to block on them). Orbax skips a step
        that is not newer than the latest one on disk unless ``force`` is set; that is logged.
        """
        step = int(step)
        meta = _to_json({} if meta is None else meta)
        if not isinstance(meta, dict):
            raise TypeError('meta must be a dict')
        if CHECKSUM_KEY in meta:
            raise ValueError(f'meta key {CHECKSUM_KEY!r} is reserved')
        # Checksum first: it reads the very buffers Orbax is about to copy, before the caller can
        # donate them to the next step.
        meta[CHECKSUM_KEY] = {'version': CHECKSUM_VERSION, 'leaves': state_checksum(state)}
        saved = self._manager.save(
            step,
            args=ocp.args.Composite(
                **{_STATE: ocp.args.StandardSave(state), _META: ocp.args.JsonSave(meta)}
            ),
            force=force,
        )
        if not saved:
            logger.warning(
                'Checkpoint step %d was not saved (latest step on disk: %s); Orbax only saves '
                'steps newer than the latest one unless force=True.',
                step,
                self._manager.latest_step(),
            )

    def wait(self) -> None:
        """Blocks until pending asynchronous saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Waits for pending saves and releases Orbax resources."""
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- listing --------------------------------------------------------------------------------

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    # -- restoring ------------------------------------------------------------------------------

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, dict, int] | None:
        """Restores ``(state, meta, step)``, verifying the state checksum.

        Args:
          abstract_state: Pytree of ``jax.ShapeDtypeStruct`` with ``.sharding`` set; the arrays
            come back with those shardings.
          step: Restore exactly this step (no fallback). By default the latest intact step.

        Returns:
          None when the directory holds no checkpoint at all (a fresh run).

        Without ``step``, steps are tried newest first; a step that fails to restore or whose
        checksum does not match is logged as a warning and the previous one is tried. Rejected
        steps newer than the restored one are renamed to ``<step>.corrupt`` (data kept for
        inspection): otherwise they would stay the "latest" step, Orbax would refuse to save the
        resumed run's lower step numbers and ``keep`` would delete the good checkpoints first.

        Raises:
          CorruptCheckpointError: checkpoints exist but none (or not ``step``) is intact.
        """
        # A pending async save must land first, and steps may have appeared/vanished on disk.
        self._manager.wait_until_finished()
        self._manager.reload()
        steps = sorted(self._manager.all_steps(), reverse=True)
        if step is not None:
            step = int(step)
            if step not in steps:
                raise FileNotFoundError(f'No checkpoint step {step} in {self.directory}')
            steps = [step]
        if not steps:
            return None

        failures: dict[int, str] = {}
        for candidate in steps:
            result, reason = self._try_restore(abstract_state, candidate)
            if result is not None:
                if failures:
                    self._quarantine(list(failures))
                    logger.warning(
                        'Restored checkpoint step %d after rejecting steps %s.',
                        candidate,
                        ', '.join(map(str, failures)),
                    )
                state, meta = result
                return state, meta, candidate
            failures[candidate] = reason
            logger.warning(
                'Checkpoint step %d in %s is unusable: %s', candidate, self.directory, reason
            )
        raise CorruptCheckpointError(str(self.directory), failures)

    def read_meta(self, step: int) -> dict | None:
        """The meta JSON of `step` alone (no arrays read), or None if it cannot be read."""
        try:
            restored = self._manager.restore(
                int(step), args=ocp.args.Composite(**{_META: ocp.args.JsonRestore()})
            )
        except Exception:  # noqa: BLE001 - an unreadable meta is for restore's fallback to judge
            return None
        meta = restored[_META]
        return dict(meta) if isinstance(meta, dict) else None

    def _try_restore(self, abstract_state: Any, step: int) -> tuple[tuple[Any, dict] | None, str]:
        """``((state, meta), '')`` if ``step`` restores intact, else ``(None, reason)``."""
        try:
            restored = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    **{
                        _STATE: ocp.args.StandardRestore(abstract_state),
                        _META: ocp.args.JsonRestore(),
                    }
                ),
            )
            state, meta = restored[_STATE], restored[_META]
            if not isinstance(meta, dict):
                return None, 'meta is not a JSON object'
            meta = dict(meta)
            expected = meta.pop(CHECKSUM_KEY, None)
            problem = _checksum_problem(expected, state_checksum(state))
        except Exception as exc:  # noqa: BLE001 - any read failure means "try the previous step"
            return None, f'restore failed: {type(exc).__name__}: {exc}'
        if problem is not None:
            return None, problem
        return (state, meta), ''

    def _quarantine(self, steps: list[int]) -> None:
        """Renames rejected step folders so that Orbax no longer sees them as steps."""
        if jax.process_index() == 0:
            for step in steps:
                try:
                    path = ocp.step.find_step_path(self.directory, self._name_format, step=step)
                except (FileNotFoundError, ValueError):
                    continue
                target = path.parent / f'{path.name}.corrupt'
                suffix = 1
                while target.exists():
                    target = path.parent / f'{path.name}.corrupt.{suffix}'
                    suffix += 1
                try:
                    path.rename(target)
                except OSError as exc:
                    logger.error('Could not move rejected checkpoint %s aside: %s', path, exc)
                    continue
                logger.warning('Moved rejected checkpoint step %d to %s', step, target)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices('models.core.checkpoint.quarantine')
        self._manager.reload()


__all__ = ['CHECKSUM_KEY', 'Checkpointer', 'CorruptCheckpointError', 'state_checksum']
