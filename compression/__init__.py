"""Lossless compression with the likelihood families (issue 14): an rANS stack over interleaved
streams in JAX (`ans`), deterministic integer tables (`tables`), codecs as (push, pop) pairs
(`codecs`, `buckets`), and coders that program against the typed pieces of
`models.core.pieces`: `autoregressive` (the decode scan), `bbans` and `bitswap` (latent
variables). See WORKSPACE.md, "Compression". Imports point one way: compression -> models.
"""
