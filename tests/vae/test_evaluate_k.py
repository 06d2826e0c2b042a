"""A finished VAE run evaluated again at another number of importance samples: the same checkpoint
is read (evaluation-only keywords are not part of its fingerprint), the trainer's number comes back
at the run's k, and a larger k gives another, tighter bound."""

import json
import os

import numpy as np

from experiments import evaluate
from experiments.run import load_config
from models.core.loop import train_and_evaluate
from tests.core.test_config import CONFIGS


def test_evaluate_a_finished_vae_at_a_chosen_k(tmp_path):
    path = [c for c in CONFIGS if c.endswith('vae_binarized_digits.py')][0]
    config = load_config(f'{path}:smoke')
    final = train_and_evaluate(config, str(tmp_path))
    workdir = str(tmp_path)
    again = evaluate.main(['--workdir', workdir])
    assert (
        again['test/nll'] == final['test/nll'] and again['test/elbo_nll'] == final['test/elbo_nll']
    )
    wider = evaluate.main(['--workdir', workdir, '--config.eval.model_kw.iw_samples=64'])
    # More samples: the bound tightens on average; the ELBO estimate stays an ELBO.
    assert wider['test/iw_nll'] < final['test/iw_nll']
    assert wider['test/iw_nll'] < wider['test/elbo_nll']
    assert np.isfinite(wider['test/bpd'])
    last = json.loads(open(os.path.join(workdir, 'metrics.jsonl')).readlines()[-1])
    assert any('iw_samples=64' in k for k in last), sorted(last)
