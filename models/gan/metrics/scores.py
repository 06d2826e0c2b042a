"""Inception score and Fréchet Inception Distance from any classifier's outputs (host, float64).

Inception score (Salimans et al., arXiv:1606.03498, section 4):
    IS = exp( E_x KL( p(y|x) || p(y) ) ),  p(y) = E_x p(y|x),
computed on each of `splits` equal, consecutive chunks of the samples (the reference code: 10
splits of 5,000 of 50,000 samples) and reported as the mean and standard deviation over splits.
The chunk's own marginal p(y) is used, as in the reference code.

FID (Heusel et al., arXiv:1706.08500):
    FID = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}),
with means and (unbiased, N - 1) covariances of the feature vectors. The trace of the matrix
square root is taken as Tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2}), which has the same eigenvalues as
(S_1 S_2)^{1/2} but is symmetric, so two symmetric eigendecompositions replace a general sqrtm
(whose complex round-off the reference code has to discard).
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """(mean, std over splits) of exp(E KL(p(y|x) || p(y))) from class logits [N, K]."""
    logp = log_softmax(logits)  # [N, K]
    n = len(logp)
    if splits < 1 or n < splits:
        raise ValueError(f'inception_score: {n} samples cannot make {splits} splits')
    scores = []
    for chunk in np.array_split(logp, splits):
        p = np.exp(chunk)
        log_marginal = np.log(p.mean(axis=0) + 1e-300)  # [K]
        kl = (p * (chunk - log_marginal)).sum(axis=1)  # [n]
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    matrix = np.asarray(matrix, np.float64)
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """Tr((A B)^{1/2}) for covariance matrices A, B."""
    root_a = sqrtm_psd(cov_a)
    inner = root_a @ np.asarray(cov_b, np.float64) @ root_a
    values = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [F], covariance [F, F]) of feature vectors [N, F]."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f'need at least two feature vectors [N, F], got shape {features.shape}')
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray
) -> float:
    diff = np.asarray(mean_a, np.float64) - np.asarray(mean_b, np.float64)
    trace = np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt_product(cov_a, cov_b)
    return float(diff @ diff + trace)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two sets of feature vectors [N, F] and [M, F]."""
    return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))
