"""The learned 2-D density of a finished (or running) workdir next to its data, as a PNG.

    python -m experiments.density2d runs/rnvp_tm     # writes runs/rnvp_tm/density.png

Restores the newest checkpoint with the workdir's own config and evaluates the family's
log_prob (EMA parameters where the config evaluates with them) on a grid; also prints the
density's integral over the picture's square, which should be close to 1.
"""

from __future__ import annotations

import argparse
import json
import os

import ml_collections
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('workdir')
    parser.add_argument('--extent', type=float, default=4.5)
    parser.add_argument('--size', type=int, default=256)
    args = parser.parse_args()

    from models.core.loop import Trainer
    from models.core.mesh import to_host
    from models.core.step import eval_variables
    from models.data import synthetic2d
    from models.flows import density2d

    with open(os.path.join(args.workdir, 'config.json')) as f:
        config = ml_collections.ConfigDict(json.load(f))
    if config.data.name not in synthetic2d.NAMES:
        raise SystemExit(f'{config.data.name!r} is not a 2-D density; known: {synthetic2d.NAMES}')
    with Trainer(config, args.workdir) as trainer:
        state = trainer.initial_state()
        variables = to_host(eval_variables(state, config.eval.use_ema))
        data = synthetic2d.split_arrays(config.data.name, 'test')['x']
        log_density = density2d.log_density_on_grid(
            trainer.family.log_prob, variables, trainer.eval_key(0, 0), args.extent, args.size
        )
    path = os.path.join(args.workdir, 'density.png')
    from models.core import images

    images.save_png(path, density2d.density_picture(log_density, np.asarray(data), args.extent))
    print(f'{path}: integral over the square {density2d.integral(log_density, args.extent):.4f}')


if __name__ == '__main__':
    main()
