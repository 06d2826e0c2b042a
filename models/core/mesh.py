"""Device mesh, shardings, and global batches assembled from process-local data.

One data axis over every device of every process: the batch is split along it and the train state
is replicated. The same code runs on one CPU, one GPU, fake CPU devices, and all hosts of a pod.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = 'data'


def make_mesh(num_devices: int = 0) -> Mesh:
    """A 1-D mesh over the first `num_devices` devices (0: all), ordered by process."""
    devices = jax.devices()
    if num_devices:
        if num_devices > len(devices):
            raise ValueError(
                f'config.mesh.num_devices={num_devices} but only {len(devices)} devices exist'
            )
        if jax.process_count() > 1 and num_devices != len(devices):
            raise ValueError(
                'config.mesh.num_devices must be 0 (all devices) with several processes'
            )
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def data_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_batch_size(global_batch: int, mesh: Mesh, what: str = 'config.train.batch_size') -> None:
    devices = mesh.devices.size
    if global_batch % devices:
        raise ValueError(
            f'{what}={global_batch} is not divisible by the {devices} devices of the mesh; '
            f'use a multiple of {devices}'
        )
    if global_batch % jax.process_count():
        raise ValueError(
            f'{what}={global_batch} is not divisible by {jax.process_count()} processes'
        )


def global_batch(local: Any, mesh: Mesh) -> Any:
    """Each process passes its own rows; each leaf becomes one array sharded over the data axis
    (nested dicts, e.g. a batch's auxiliary sources, keep their structure)."""
    sharding = data_sharded(mesh)
    process_count = jax.process_count()

    def make(x):
        x = np.asarray(x)
        shape = (x.shape[0] * process_count, *x.shape[1:])
        return jax.make_array_from_process_local_data(sharding, x, shape)

    return jax.tree.map(make, local)


def to_host(tree):
    """Numpy values of a pytree of arrays, from any process, in one batch of transfers.

    Replicated arrays are read from this process's own copy; arrays sharded across processes
    (samples split over the mesh) are gathered from every process, so all processes must call it.
    """

    def local(x):
        if not isinstance(x, jax.Array) or x.is_fully_addressable:
            return x
        if x.is_fully_replicated:
            return x.addressable_data(0)
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(x, tiled=True)

    # device_get starts every copy before waiting for any of them.
    return jax.tree.map(np.asarray, jax.device_get(jax.tree.map(local, tree)))
