"""Deterministic, resumable, multi-process batches over a random-access source.

The order of examples is a function of (seed, global batch size, dataset length) only. Every
process computes the same global index batch for a position and reads its own contiguous slice,
so the global batch is the same whatever the number of processes or devices, and resuming at
batch k needs nothing but the integer k from the checkpoint.
"""

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import grain
import numpy as np

from models.data.sources import Source, gather

T = TypeVar('T')
_END = object()
_PUT_POLL_S = 0.1
# A read stuck on slow storage should not hang shutdown; the thread is a daemon anyway.
_JOIN_TIMEOUT_S = 10.0


def _check_processes(global_batch: int, process_index: int, process_count: int) -> int:
    """Validates the process layout and returns the per-process batch size."""
    if global_batch <= 0:
        raise ValueError(f'global_batch must be positive, got {global_batch}.')
    if process_count <= 0 or not 0 <= process_index < process_count:
        raise ValueError(
            f'Need 0 <= process_index < process_count, got {process_index} and {process_count}.'
        )
    if global_batch % process_count:
        raise ValueError(
            f'global_batch {global_batch} is not divisible by process_count {process_count}.'
        )
    return global_batch // process_count


def _read(source: Source, indices: np.ndarray) -> dict[str, np.ndarray]:
    batch = gather(source, indices)
    if 'label' in batch:
        batch['label'] = batch['label'].astype(np.int32, copy=False)
    return batch


class TrainBatches:
    """Infinite stream of global batches in a seed-determined order; this process reads its slice.

    Batch `position` holds global example indices `order[position]`, where `order` reshuffles the
    dataset every epoch and batches run across epoch boundaries (no example is dropped).
    """

    def __init__(
        self,
        source: Source,
        global_batch: int,
        seed: int,
        process_index: int = 0,
        process_count: int = 1,
        prefetch: int = 2,
    ):
        local_batch = _check_processes(global_batch, process_index, process_count)
        if global_batch > len(source):
            raise ValueError(
                f'global_batch {global_batch} is larger than the dataset ({len(source)} examples).'
            )
        if prefetch < 0:
            raise ValueError(f'prefetch must be >= 0, got {prefetch}.')
        self.source = source
        self.global_batch = global_batch
        self.local_batch = local_batch
        self.prefetch = prefetch
        self._rows = slice(process_index * local_batch, (process_index + 1) * local_batch)
        # Random access into an endless reshuffled stream: position -> global index batch.
        self._order = (
            grain.MapDataset.range(len(source))
            .shuffle(seed=seed)
            .repeat(None)
            .batch(global_batch, drop_remainder=True)
        )

    def global_indices(self, position: int) -> np.ndarray:
        """Dataset indices of global batch `position` (the same in every process)."""
        if position < 0:
            raise IndexError(f'Batch position must be >= 0, got {position}.')
        return np.asarray(self._order[position])

    def __getitem__(self, position: int) -> dict[str, np.ndarray]:
        """This process's slice of global batch `position`."""
        return _read(self.source, self.global_indices(position)[self._rows])

    def iterate(self, start: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """Batches start, start + 1, ..., read ahead in a background thread."""
        if start < 0:
            raise ValueError(f'start must be >= 0, got {start}.')
        return prefetched(self.__getitem__, itertools.count(start), self.prefetch)


def eval_batches(
    source: Source,
    global_batch: int,
    process_index: int = 0,
    process_count: int = 1,
    prefetch: int = 2,
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """One in-order pass over `source` as (local batch, float32 mask) pairs.

    The last global batch is padded to full size by repeating the last example; the mask is 1
    for real examples and 0 for padding. Every process yields the same number of batches, so
    collectives over the batch stay in step.
    """
    local_batch = _check_processes(global_batch, process_index, process_count)
    size = len(source)
    if size == 0:
        raise ValueError('Cannot evaluate on an empty source.')
    rows = np.arange(process_index * local_batch, (process_index + 1) * local_batch)

    def read(position: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        indices = position * global_batch + rows
        mask = (indices < size).astype(np.float32)
        return _read(source, np.minimum(indices, size - 1)), mask

    num_batches = -(-size // global_batch)
    return prefetched(read, range(num_batches), prefetch)


def prefetched(read: Callable[[int], T], positions: Iterable[int], depth: int) -> Iterator[T]:
    """`map(read, positions)`, computed up to `depth` items ahead in a daemon thread."""
    if depth == 0:
        return map(read, positions)
    return _Prefetcher(read, positions, depth)


def _produce(
    read: Callable[[int], Any],
    positions: Iterable[int],
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    """Worker loop; it holds no reference to the iterator, so dropping that stops the worker."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=_PUT_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    try:
        for position in positions:
            if not put((read(position), None)):
                return
    except BaseException as error:  # handed to the consumer, which re-raises it
        put((None, error))
        return
    put(_END)


class _Prefetcher(Iterator[T]):
    """Iterator over a background reader; `close()` (or garbage collection) stops the thread."""

    def __init__(self, read: Callable[[int], T], positions: Iterable[int], depth: int):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_produce,
            args=(read, positions, self._queue, self._stop),
            name='data-prefetch',
            daemon=True,
        )
        self._thread.start()

    def __next__(self) -> T:
        if self._stop.is_set():
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self.close()
            raise StopIteration
        value, error = item
        if error is not None:
            self.close()
            raise error
        return value

    def close(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=_JOIN_TIMEOUT_S)

    def __enter__(self) -> '_Prefetcher[T]':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        self._stop.set()
