"""Autoregressive likelihood models: PixelCNN, Gated PixelCNN, PixelCNN++, MADE and NADE.

Images are modelled in raster order with the sub-pixels of a pixel in channel order (R -> G -> B).
Every image family exposes `conditionals` (the [B, H, W, C, levels] log-probabilities a lossless
coder needs) and samples with a cached generator whose work per pixel is one pixel's work
(Ramachandran et al. 2017, arXiv:1704.06001) where the model has one, else naively.
"""
