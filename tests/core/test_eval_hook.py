"""Family.evaluation: per-example test outputs reach `summarize` once per real test row.

This module is also the family under test (config.model = 'tests.core.test_eval_hook').
"""

import jax.numpy as jnp
import numpy as np

from experiments.run import load_config
from models.core.family import Evaluation, Family
from models.core.loop import train_and_evaluate
from models.data import open_split
from tests.core.test_config import CONFIGS


def make() -> Family:
    def init(rng, batch):
        return {'model': {'w': jnp.zeros(())}}

    def loss(variables, batch, ctx):
        return {'model': (variables.params['model']['w'] - 1.0) ** 2}, {}, variables.state

    def sample(variables, rng, num):
        return jnp.zeros((num, 8, 8, 1), jnp.int32)

    def outputs(variables, batch, rng):
        pixels = batch['image'].astype(jnp.float32).sum(axis=(1, 2, 3))  # [B]
        return {'label': batch['label'], 'pixels': pixels + variables.params['model']['w']}

    def summarize(rows):
        return {
            'test/rows': float(len(rows['label'])),
            'test/label_mean': float(rows['label'].mean()),
            'test/pixel_mean': float(rows['pixels'].mean()),
        }

    return Family(init, loss, sample, evaluation=Evaluation(outputs, summarize))


def test_evaluation_hook_sees_every_test_row_once_and_no_padding(tmp_path):
    config = load_config(f'{CONFIGS[0]}:smoke')
    config.model = 'tests.core.test_eval_hook'
    config.model_kw = {}
    config.eval.batch_size = 256  # 360 test digits: two batches, the second padded by 152 rows
    config.optim.model.lr = 0.1
    final = train_and_evaluate(config, str(tmp_path))
    test, _ = open_split('digits8x8', 'test', None)
    labels = np.array([test[i]['label'] for i in range(len(test))])
    pixels = np.array([test[i]['image'].sum() for i in range(len(test))], np.float64)
    assert final['test/rows'] == 360
    assert 'test/nll' not in final  # no log_prob, no likelihood
    np.testing.assert_allclose(final['test/label_mean'], labels.mean(), rtol=1e-6)
    # The trained parameter reaches the evaluation (w moved from 0 towards 1).
    assert 0.0 < final['test/pixel_mean'] - pixels.mean() < 1.0
