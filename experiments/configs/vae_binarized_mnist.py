"""VAE with a diagonal Gaussian posterior on dynamically binarised MNIST: the one-stochastic-layer
VAE of the importance-weighted autoencoder paper's Table 1, scored with k = 5000 samples.

Paper: Burda, Grosse & Salakhutdinov 2015, "Importance Weighted Autoencoders", arXiv:1509.00519
(the VAE of Kingma & Welling 2013, arXiv:1312.6114, trained with one sample). Recipe of the
official code (yburda/iwae): 50 latent dimensions, encoder and decoder of two 200-unit tanh
layers, Bernoulli likelihood, dynamic binarisation, Adam (beta1 0.99, eps 1e-4), batch 20,
3,280 epochs in 8 stages of 3^i epochs with the learning rate from 1e-3 down to 1e-4. Difference:
the staged schedule is an exponential decay from 1e-3 to 1e-4 over the run here.
Command:
    python -m experiments.run --config experiments/configs/vae_binarized_mnist.py \\
        --workdir runs/vae_mnist --config.data.data_dir=/data/tfds
Hardware: not stated in the paper; about 9.8 M steps of batch 20 (a GPU for days; the MLP is
small, a CPU host trains it too, slowly).
Data: `tfds build mnist --data_dir=DIR --file_format=array_record`; the smoke variant runs a tiny
model on the bundled 8x8 digits.
Expected: test NLL 86.76 nats (the paper's Table 1, VAE, one stochastic layer, k = 1 in training,
log p(x) estimated with 5,000 samples), as transcribed in the nbip/IWAE README [S].
"""

from experiments.configs import _vae
from models.core.config import defaults, optimizer

EPOCHS, TRAIN_SIZE, BATCH = 3280, 60_000, 20


def get_config(arg=None):
    c = defaults()
    c.model = 'vae.vae'
    c.model_kw = {
        'latent_dim': 50,
        'encoder_hidden': (200, 200),
        'decoder_hidden': (200, 200),
        'activation': 'tanh',
        'likelihood': 'bernoulli',
        'binarize': 'dynamic',
    }
    c.data.name = 'mnist'
    c.train.steps = EPOCHS * TRAIN_SIZE // BATCH
    c.train.batch_size = BATCH
    c.train.log_every = 1000
    c.train.eval_every = 200_000
    c.train.sample_every = 200_000
    c.train.checkpoint_every = 20_000
    c.optim.model = optimizer(lr=1e-3, b1=0.99, eps=1e-4, schedule='exponential', decay_rate=0.1)
    c.eval.batch_size = 100
    c.eval.model_kw = {'iw_samples': 5000, 'iw_chunk': 250}
    c.expected = {
        'test/nll': 86.76,
        'source': 'Burda et al. 2015 Table 1, VAE, 1 layer, k=1 (nbip/IWAE README transcription)',
    }
    if arg == 'smoke':
        tiny = {**c.model_kw, 'latent_dim': 4, 'encoder_hidden': (16,), 'decoder_hidden': (16,)}
        _vae.digits_smoke(c, tiny)
    return c
