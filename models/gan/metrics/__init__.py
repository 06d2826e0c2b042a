"""Sample-quality and representation metrics for GANs, computed from any feature network."""
