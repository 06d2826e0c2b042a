"""DCGAN generator and discriminator, with the switches the Improved-GAN, semi-supervised and
InfoGAN models need.

Radford, Metz, Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", arXiv:1511.06434: strided (transposed) convolutions instead of pooling,
batch norm in both networks except the generator's output and the discriminator's input layer,
ReLU in the generator with tanh at its output, leaky ReLU (0.2) in the discriminator. For 2-D point
data both networks are MLPs with the same normalisation and output layers.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.gan.techniques import MinibatchDiscrimination, VirtualBatchNorm
from models.layers.conv_transpose import ConvTranspose

NORMS = ('batch', 'virtual', 'none')
LEAK = 0.2


def halvings(size: int, smallest: int = 4) -> int:
    """How many stride-2 layers take `size` down to a feature map no larger than `smallest`."""
    count = 0
    while size % 2 == 0 and size > smallest:
        size //= 2
        count += 1
    if count == 0:
        raise ValueError(f'image side {size} cannot be halved: need an even side above {smallest}')
    return count


def check_shape(shape: tuple[int, ...]) -> None:
    """Refuses, before anything is traced, data the networks cannot be built for."""
    if len(shape) == 1:
        return
    if len(shape) != 3:
        raise ValueError(f'GAN networks take [H, W, C] images or [D] points, not shape {shape}')
    ups = halvings(shape[0])
    if shape[1] % (2**ups):
        raise ValueError(f'image shape {shape}: the width must halve as often as the height')


def _normalize(kind: str, h: jax.Array, train: bool, reference_size: int = 0) -> jax.Array:
    if kind == 'batch':
        # Running statistics (momentum 0.9) are kept for evaluation; training uses batch ones.
        return nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
    if kind == 'virtual':
        return VirtualBatchNorm(reference_size)(h)
    return h


class Generator(nn.Module):
    """z [N, latent] -> images [N, H, W, C] in [-1, 1] (or points [N, D] for 1-D shapes)."""

    out_shape: tuple[int, ...]
    width: int = 64  # channels of the last hidden feature map; doubled per layer towards z
    norm: str = 'batch'
    hidden: int = 0  # a dense layer of this width first (InfoGAN's MNIST generator: 1024)
    kernel: int = 4
    reference_size: int = 0  # virtual batch norm: the first rows of z are the reference batch
    mlp_depth: int = 2

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        def norm(h):
            return _normalize(self.norm, h, train, self.reference_size)

        h = z
        if len(self.out_shape) == 1:
            for _ in range(self.mlp_depth):
                h = nn.relu(norm(nn.Dense(self.width)(h)))
            return nn.Dense(self.out_shape[0])(h)  # [N, D]
        height, width, channels = self.out_shape
        ups = halvings(height)
        if width % (2**ups):
            raise ValueError(f'image shape {self.out_shape}: width must halve like the height')
        features = self.width * 2 ** (ups - 1)
        if self.hidden:
            h = nn.relu(norm(nn.Dense(self.hidden)(h)))
        h = nn.Dense((height >> ups) * (width >> ups) * features)(h)
        h = nn.relu(norm(h)).reshape(z.shape[0], height >> ups, width >> ups, features)
        for _ in range(ups - 1):
            features //= 2
            h = ConvTranspose(features, (self.kernel,) * 2, (2, 2), padding='SAME')(h)
            h = nn.relu(norm(h))
        h = ConvTranspose(channels, (self.kernel,) * 2, (2, 2), padding='SAME')(h)
        return jnp.tanh(h)  # [N, H, W, C]


class Discriminator(nn.Module):
    """x -> (features [N, F], logits [N, outputs]). `features` is the layer feature matching
    and the InfoGAN Q head read (before the minibatch features are appended)."""

    width: int = 64
    outputs: int = 1
    norm: str = 'batch'
    kernel: int = 4
    extra_convs: int = 0  # stride-1 3x3 convolutions before each strided one (Improved GAN: 2)
    downsamplings: int = 0  # 0: halve down to a 4x4 map
    global_pool: bool = False  # average the last map (Improved GAN) instead of flattening it
    dropout: float = 0.0  # after each stage
    input_dropout: float = 0.0
    minibatch_kernels: int = 0
    minibatch_dim: int = 5
    mlp_depth: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        if self.norm == 'virtual':
            raise ValueError('virtual batch norm is for the generator; use batch or none in D')
        deterministic = not train
        h = nn.Dropout(self.input_dropout, deterministic=deterministic)(x)
        if x.ndim == 2:
            for _ in range(self.mlp_depth):
                h = nn.leaky_relu(nn.Dense(self.width)(h), LEAK)
            features = h  # [N, width]
        else:
            stages = self.downsamplings or halvings(x.shape[1])
            channels, first = self.width, True
            for _ in range(stages):
                for _ in range(self.extra_convs):
                    h = nn.Conv(channels, (3, 3), padding='SAME')(h)
                    h = h if first else _normalize(self.norm, h, train)
                    h, first = nn.leaky_relu(h, LEAK), False
                h = nn.Conv(channels, (self.kernel,) * 2, (2, 2), padding='SAME')(h)
                h = h if first else _normalize(self.norm, h, train)
                h, first = nn.leaky_relu(h, LEAK), False
                h = nn.Dropout(self.dropout, deterministic=deterministic)(h)
                channels *= 2
            features = h.mean(axis=(1, 2)) if self.global_pool else h.reshape(h.shape[0], -1)
        head_input = features
        if self.minibatch_kernels:
            head_input = MinibatchDiscrimination(self.minibatch_kernels, self.minibatch_dim)(
                features
            )
        return features, nn.Dense(self.outputs)(head_input)


class QHead(nn.Module):
    """InfoGAN's recognition network on the discriminator's features: categorical logits and the
    means of the continuous codes (unit variance, as in the released MNIST model)."""

    categorical: int
    continuous: int
    hidden: int = 128
    norm: str = 'batch'

    @nn.compact
    def __call__(self, features: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        h = nn.leaky_relu(_normalize(self.norm, nn.Dense(self.hidden)(features), train), LEAK)
        return nn.Dense(self.categorical)(h), nn.Dense(self.continuous)(h)
