"""One convolutional inverse-autoregressive-flow step over a latent feature map (Kingma, Salimans
et al. 2016, arXiv:1606.04934, the CIFAR-10 model's posterior).

The latent z [B, H, W, C] is ordered by position in raster order, then by channel. Two masked
hidden convolutions (channel groups = the C latent channels; 'B' masks, so a hidden unit of group
g sees z's channels <= g at its own position) read z, the context h (computed from x and the layers
above, so it may be read freely) is added after the first, ELU after each; a masked 'A' output
layer gives, for every element, a shift m and a log-scale s from the elements before it only:

    z' = (z - m) * exp(-s),   log|dz'/dz| = sum of -s   (the Jacobian is triangular).

m and s are scaled by 0.1 and their layer starts at output std 0.1 (data-dependent init), as in
the openai/iaf code, so the step starts close to the identity.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.vae.wn_conv import WNConv

OUTPUT_SCALE = 0.1


class ConvIAFStep(nn.Module):
    hidden: int
    hidden_layers: int = 2

    @nn.compact
    def __call__(self, z: jax.Array, context: jax.Array | None) -> tuple[jax.Array, jax.Array]:
        """z [B, H, W, C], context [B, H, W, hidden] -> (z', log|dz'/dz| per element)."""
        channels = z.shape[-1]
        a = z
        for i in range(self.hidden_layers):
            a = WNConv(self.hidden, mask='B', groups=channels)(a)
            if i == 0 and context is not None:
                a = a + context
            a = jax.nn.elu(a)
        out = WNConv(2 * channels, mask='A', groups=channels, paired_out=True)(a)
        m, s = jnp.split(OUTPUT_SCALE * out, 2, axis=-1)
        return (z - m) * jnp.exp(-s), -s
