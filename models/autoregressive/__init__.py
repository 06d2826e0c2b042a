"""Autoregressive likelihood models: PixelCNN, Gated PixelCNN, PixelCNN++, MADE and NADE.

Images are modelled in raster order with the sub-pixels of a pixel in channel order (R -> G -> B).
Every family puts its typed pieces (`models.core.pieces.Autoregressive`) on `Family.pieces`: the
teacher-forced conditionals a coder needs and a decode scan whose "choose the next symbol" is
pluggable. Sampling is that scan with a draw plugged in; for the image models it runs the cached
generator, whose work per pixel is one pixel's work (Ramachandran et al. 2017, arXiv:1704.06001),
where the model has one.
"""
