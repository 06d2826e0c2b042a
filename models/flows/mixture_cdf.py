"""Flow++'s logistic-mixture CDF transform (Ho et al. 2019, arXiv:1902.00275, section 3.2):

    y = logit(MixLogCDF(x; pi, mu, s)) * exp(a) + b

elementwise, with pi, mu, s, a, b produced by the coupling network. Its inverse has no closed form:
we invert the mixture CDF by bisection, vectorised over every element, with a fixed number of
halvings derived from the stated tolerance (so it compiles to one static loop).

The bracket: each component's quantile q_k = mu_k + s_k logit(c) has F_k(q_k) = c, so the mixture
CDF F satisfies F(min_k q_k) <= c <= F(max_k q_k) and the root lies in [min_k q_k, max_k q_k].
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

# Absolute tolerance of the bisection inverse in x, for brackets up to BRACKET_MAX wide (mixture
# means and scales beyond that would need more halvings; float32 stops improving at its ulp).
TOLERANCE = 1e-6
BRACKET_MAX = 2.0**20
BISECTION_STEPS = math.ceil(math.log2(BRACKET_MAX / TOLERANCE))  # 40
MIN_LOG_SCALE = -7.0


def unpack(h: jax.Array, components: int):
    """h [..., 2 + 3K] -> a, b [...], logits, mu, log_s [..., K] (scales clipped as Flow++)."""
    a, b = h[..., 0], h[..., 1]
    logits, mu, log_s = jnp.split(h[..., 2:], [components, 2 * components], axis=-1)
    return a, b, jax.nn.log_softmax(logits, axis=-1), mu, jnp.maximum(log_s, MIN_LOG_SCALE)


def log_cdf_terms(x, log_pi, mu, log_s):
    """log F(x), log(1 - F(x)), log f(x) of the mixture, stable in the tails."""
    z = (x[..., None] - mu) * jnp.exp(-log_s)  # [..., K]
    log_cdf = jax.nn.logsumexp(log_pi + jax.nn.log_sigmoid(z), axis=-1)
    log_sf = jax.nn.logsumexp(log_pi + jax.nn.log_sigmoid(-z), axis=-1)
    log_pdf = jax.nn.logsumexp(
        log_pi + jax.nn.log_sigmoid(z) + jax.nn.log_sigmoid(-z) - log_s, axis=-1
    )
    return log_cdf, log_sf, log_pdf


def forward(x, h, components: int, rescale):
    """(y, elementwise log dy/dx). `rescale` [C] bounds a = rescale * tanh(a_raw)."""
    a_raw, b, log_pi, mu, log_s = unpack(h, components)
    a = rescale * jnp.tanh(a_raw)
    log_cdf, log_sf, log_pdf = log_cdf_terms(x, log_pi, mu, log_s)
    y = (log_cdf - log_sf) * jnp.exp(a) + b
    return y, log_pdf - log_cdf - log_sf + a


def inverse(y, h, components: int, rescale):
    a_raw, b, log_pi, mu, log_s = unpack(h, components)
    a = rescale * jnp.tanh(a_raw)
    target = (y - b) * jnp.exp(-a)  # logit of the mixture CDF at the answer
    quantiles = mu + jnp.exp(log_s) * target[..., None]  # [..., K]
    lo, hi = jnp.min(quantiles, axis=-1), jnp.max(quantiles, axis=-1)

    def halve(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        log_cdf, log_sf, _ = log_cdf_terms(mid, log_pi, mu, log_s)
        below = log_cdf - log_sf < target
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, BISECTION_STEPS, halve, (lo, hi))
    return 0.5 * (lo + hi)
