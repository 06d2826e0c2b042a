"""Generative adversarial networks: DCGAN with the Improved-GAN techniques, the semi-supervised
K+1-class GAN, InfoGAN, and sample-quality metrics (Inception score, FID)."""
