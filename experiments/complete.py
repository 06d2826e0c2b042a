"""Fills in the missing part of images with a finished autoregressive run (missing data).

    python -m experiments.complete --workdir runs/demo [--mask lower_half|box|file] \\
        [--box TOP,LEFT,HEIGHT,WIDTH] [--mask-file M.npy] [--split test] [--num 8] [--samples 6]

Takes the first `--num` images of the split, hides the mask's sub-pixels (a given mask: a .npy of
bool [H, W] or [H, W, C], True = missing) and draws `--samples` completions of each from the
model's exact conditionals (see experiments/completion.py). A class-conditional model is given
each image's true label. Writes a grid (per image: original, masked with the hole in red, the
completions) as PREFIX.png and the arrays as PREFIX.npz; PREFIX defaults to
<workdir>/completions/<mask>_seed<S>. Every autoregressive family (PixelCNN, Gated PixelCNN,
PixelCNN++, MADE, NADE, the per-pixel baseline) can complete; other families are refused.
"""

from __future__ import annotations

import os

import numpy as np

from experiments import completion, finished_run
from models.core import images
from models.core.pieces import Autoregressive


def command(args, overrides):
    if args.num <= 0 or args.samples <= 0:
        raise finished_run.RunError('--num and --samples must be positive')
    box = None
    if args.box:
        try:
            box = [int(v) for v in args.box.split(',')]
        except ValueError:
            raise finished_run.RunError(f'--box {args.box}: four integers expected') from None
    if args.mask == 'file' and not (args.mask_file and os.path.exists(args.mask_file)):
        raise finished_run.RunError(
            f'--mask file needs an existing --mask-file, not {args.mask_file}'
        )
    saved = finished_run.saved_config(args.workdir)
    split = args.split or saved.data.eval_split
    state = {}

    def require(family, spec):
        if not isinstance(family.pieces, Autoregressive):
            raise finished_run.RunError(
                f'{saved.model} is not an autoregressive family (it exposes no Autoregressive '
                'pieces with a decode scan): completion needs exact conditionals'
            )
        try:
            state['symbols'] = completion.Symbols(
                family.pieces, spec, saved.model_kw.get('binarize_at')
            )
            state['missing'] = completion.missing_mask(
                args.mask, tuple(spec.shape), box, args.mask_file
            )
        except ValueError as e:
            raise finished_run.RunError(str(e)) from None

    with finished_run.open_run(
        args.workdir, [*overrides, f'--config.data.eval_split={split}'], require
    ) as run:
        import jax

        from models.data.sources import gather

        source = run.trainer.inputs.eval_source
        num = min(args.num, len(source))
        rows = gather(source, np.arange(num))
        data = np.asarray(rows[run.spec.key]).astype(np.int32)
        labels = rows.get('label') if run.spec.num_classes else None
        symbols, missing = state['symbols'], state['missing']
        seed = 0 if args.seed is None else args.seed
        rng = jax.random.fold_in(jax.random.PRNGKey(run.config.train.seed + 3), seed)
        complete = completion.completer(run.family.pieces)
        done = completion.completions(
            complete, run.variables(), rng, symbols.to_model(data), missing, labels, args.samples
        )
        completed = symbols.to_data(done)
        original = symbols.to_data(symbols.to_model(data))
        prefix = args.out or os.path.join(args.workdir, 'completions', f'{args.mask}_seed{seed}')
        os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
        tiles = completion.grid_rows(original, missing, completed, run.spec.num_levels)
        grid = images.image_grid(tiles.reshape(-1, *tiles.shape[2:]), 256, tiles.shape[1])
        images.save_png(prefix + '.png', grid, max(1, 512 // max(grid.shape[:2])))
        np.savez(prefix + '.npz', original=original, missing=missing, completions=completed)
        print(f'{num} images x {args.samples} completions ({args.mask}, step {run.step})')
        print(f'wrote {prefix}.png and {prefix}.npz')
        return original, missing, completed


def parser():
    p = finished_run.command_parser(__doc__.splitlines()[0])
    p.add_argument('--mask', choices=completion.MASKS, default='lower_half')
    p.add_argument('--box', default=None, help='TOP,LEFT,HEIGHT,WIDTH of a box mask')
    p.add_argument('--mask-file', default=None, help='.npy of bool, True = missing')
    p.add_argument('--split', default=None, help="default: the run's eval split (test)")
    p.add_argument('--num', type=int, default=8, help='images to complete (default 8)')
    p.add_argument('--samples', type=int, default=6, help='completions per image (default 6)')
    p.add_argument('--seed', type=int, default=None)
    p.add_argument('--out', default=None, help='path prefix of the .png and .npz')
    return p


main = finished_run.main_of(command, parser())

if __name__ == '__main__':
    main()
