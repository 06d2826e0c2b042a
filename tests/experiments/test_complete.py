"""experiments.complete: observed sub-pixels are never changed, and the missing ones follow the
model's conditionals (checked with the per-pixel baseline, whose conditionals are its marginals,
and with a class-conditional Gated PixelCNN through its cached decode)."""

import jax
import numpy as np

from experiments import complete, completion, finished_run
from models.core.family import as_variables, make_family
from models.data import DatasetSpec
from tests.experiments import frequencies
from tests.experiments.refusals import refused


def test_command_keeps_the_observed_pixels(baseline_run, tmp_path):
    workdir, _, _ = baseline_run
    prefix = str(tmp_path / 'box')
    argv = ['--workdir', workdir, '--mask', 'box', '--box', '1,2,4,3', '--num', '5']
    complete.main([*argv, '--samples', '3', '--out', prefix])
    out = np.load(prefix + '.npz')
    original, missing, done = out['original'], out['missing'], out['completions']
    assert done.shape == (5, 3, 8, 8, 1) and missing.sum() == 12
    kept = np.broadcast_to(~missing, done.shape)
    assert np.array_equal(done[kept], np.broadcast_to(original[:, None], done.shape)[kept])
    assert not np.array_equal(done[:, 0][:, missing], done[:, 1][:, missing])  # really drawn
    assert (tmp_path / 'box.png').stat().st_size > 0


def test_baseline_completions_follow_its_conditionals(baseline_run):
    workdir, _, _ = baseline_run
    with finished_run.open_run(workdir, []) as run:
        variables = run.variables()
        log_p = np.asarray(jax.nn.log_softmax(variables.params['model']['logits'], -1))
        x = np.asarray(run.trainer.inputs.eval_source[0]['image'])[None].astype(np.int32)
        missing = completion.missing_mask('lower_half', (8, 8, 1))
        complete_fn = completion.completer(run.family.pieces)
        done = completion.completions(
            complete_fn, variables, jax.random.PRNGKey(0), x, missing, None, 3000
        )[0]
    assert np.array_equal(done[:, ~missing], np.broadcast_to(x[0][~missing], (3000, 32)))
    probs = np.exp(log_p.reshape(64, -1))[missing.reshape(-1)]
    frequencies.assert_follow(done[:, missing], probs)


def test_gated_pixelcnn_completes_through_its_cached_decode():
    spec = DatasetSpec('digits8x8', (8, 8, 1), 'image', 17, 10, {})
    kw = {'features': 8, 'num_layers': 2, 'kernel_size': 3, 'out_hidden': 16}
    family = make_family('autoregressive.gated_pixelcnn', {**kw, 'class_conditional': True}, spec)
    x = np.random.default_rng(0).integers(0, 17, (4, 8, 8, 1)).astype(np.int32)
    labels = np.arange(4, dtype=np.int32)
    variables = as_variables(family.init(jax.random.PRNGKey(1), {'image': x, 'label': labels}))
    missing = completion.missing_mask('box', (8, 8, 1), box=(2, 1, 3, 5))
    done = completion.completions(
        completion.completer(family.pieces),
        variables,
        jax.random.PRNGKey(2),
        x,
        missing,
        labels,
        2,
    )
    kept = np.broadcast_to(~missing, done.shape)
    assert np.array_equal(done[kept], np.broadcast_to(x[:, None], done.shape)[kept])
    assert not np.array_equal(done[:, 0][:, missing], done[:, 1][:, missing])


def test_families_without_conditionals_and_bad_masks_are_refused(baseline_run, toy_run, tmp_path):
    workdir, _, _ = baseline_run
    assert 'not an autoregressive family' in refused(complete.main, ['--workdir', toy_run])
    outside = refused(complete.main, ['--workdir', workdir, '--mask', 'box', '--box', '9,0,2,2'])
    assert 'outside the 8x8 image' in outside
    np.save(tmp_path / 'm.npy', np.ones((4, 4), bool))
    argv = ['--workdir', workdir, '--mask', 'file', '--mask-file', str(tmp_path / 'm.npy')]
    assert 'has shape (4, 4)' in refused(complete.main, argv)
    assert 'needs an existing --mask-file' in refused(complete.main, argv[:4])
