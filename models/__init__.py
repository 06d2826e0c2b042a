"""Deep generative model families over one shared training core."""

import jax

# Random bits by the non-partitionable threefry: XLA:CPU compiles the partitionable variant (JAX's
# default) many times slower here (5 normal draws of different shapes: 36 s against 3 s on the
# 2-core machine), and every family draws noise in its init and its step; the test suite ran 40%
# faster without it. Values do not depend on the device count either way; on an accelerator the
# draws of a sharded array are computed whole on each device, a cost only for very large noise.
jax.config.update('jax_threefry_partitionable', False)
