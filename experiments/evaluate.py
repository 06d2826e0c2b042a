"""Evaluates a finished run with its family's test metrics and records them in the workdir.

Any split of its dataset, or of another dataset of the same shape and levels; the numbers are
appended to the run's metrics.jsonl.

    python -m experiments.evaluate --workdir runs/demo [--split train] [--dataset NAME] \\
        [--params ema|raw] [--config.eval.batch_size=120 ...]

Further `--config.a.b=v` arguments override the run's saved config, e.g. the number of samples of
a stochastic bound (`--config.eval.model_kw.iw_samples=5000` where a family reads it); overrides
that would change the trained model are refused. On the run's own split with the default params
this reproduces the trainer's final numbers exactly (the same evaluation keys). The numbers are
recorded as `evaluate/<dataset>/<split>/<params>[/<overrides>]/<metric>` at the checkpoint's step,
so they never shadow the trainer's own `test/...` lines.
"""

from __future__ import annotations

from experiments import finished_run


def require(family, spec) -> None:
    if family.log_prob is None and family.evaluation is None:
        raise finished_run.RunError(
            'this family has no test metrics to evaluate (no log_prob and no evaluation)'
        )


def _has_split(name: str, split: str, data_dir: str) -> bool:
    from models.data import open_split

    try:
        open_split(name, split, data_dir or None)
    except ValueError:
        return False
    return True


def command(args, overrides):
    saved = finished_run.saved_config(args.workdir)
    dataset = args.dataset or saved.data.name
    split = args.split or saved.data.eval_split
    ours = [f'--config.data.eval_split={split}', f'--config.eval.use_ema={args.params == "ema"}']
    if args.dataset:
        ours.append(f'--config.data.name={args.dataset}')
        if not _has_split(args.dataset, saved.data.train_split, saved.data.data_dir):
            # The train split is read only for the first batch's shapes: the evaluated one will do.
            ours.append(f'--config.data.train_split={split}')
    with finished_run.open_run(args.workdir, [*overrides, *ours], require) as run:
        metrics = run.trainer.evaluate(run.state, run.step)
        tag = '/'.join(['evaluate', dataset, split, args.params])
        extra = ','.join(o.removeprefix('--config.') for o in overrides)
        if extra:
            tag += f'/{extra}'
        print(f'{args.workdir} at step {run.step}, {dataset}/{split}, {args.params} params:')
        for key, value in sorted(metrics.items()):
            print(f'  {key}: {value:.6g}')
        finished_run.record(args.workdir, run.step, tag, metrics)
        print(f'appended to {args.workdir}/metrics.jsonl as {tag}/...')
        return metrics


def parser():
    p = finished_run.command_parser(__doc__.splitlines()[0])
    p.add_argument('--split', default=None, help="default: the run's eval split (test)")
    p.add_argument('--dataset', default=None, help='another dataset of the same shape and levels')
    p.add_argument('--params', choices=('ema', 'raw'), default='ema', help='EMA or raw params')
    return p


main = finished_run.main_of(command, parser())

if __name__ == '__main__':
    main()
