"""Per-player optax optimizers and learning-rate schedules built from the config."""

from __future__ import annotations

import optax


def schedule(opt, total_steps: int) -> optax.Schedule:
    decay_steps = opt.decay_steps or max(total_steps - opt.warmup_steps, 1)
    end = opt.lr * opt.end_lr_factor
    if opt.schedule == 'constant':
        main = optax.constant_schedule(opt.lr)
    elif opt.schedule == 'cosine':
        main = optax.cosine_decay_schedule(opt.lr, decay_steps, alpha=opt.end_lr_factor)
    elif opt.schedule == 'linear':
        main = optax.linear_schedule(opt.lr, end, decay_steps)
    elif opt.schedule == 'exponential':
        # end_lr_factor > 0 floors the decay (Bit-Swap decays by 0.9995 a step down to lr / 4).
        floor = end if opt.end_lr_factor > 0 else None
        main = optax.exponential_decay(opt.lr, decay_steps, opt.decay_rate, end_value=floor)
    else:
        raise ValueError(f'unknown schedule {opt.schedule!r}')
    if opt.warmup_steps <= 0:
        return main
    warmup = optax.linear_schedule(0.0, opt.lr, opt.warmup_steps)
    return optax.join_schedules([warmup, main], [opt.warmup_steps])


def make_optimizer(opt, total_steps: int) -> optax.GradientTransformation:
    """Clipping first (on the raw gradient), then the optimizer with its schedule."""
    lr = schedule(opt, total_steps)
    parts = []
    if opt.clip_norm > 0:
        parts.append(optax.clip_by_global_norm(opt.clip_norm))
    decoupled = opt.name in ('adamw', 'lamb')
    if opt.weight_decay > 0 and not decoupled:
        # L2 regularisation added to the gradient, as RealNVP and most older papers state it.
        parts.append(optax.add_decayed_weights(opt.weight_decay))
    if opt.name == 'adam':
        parts.append(optax.adam(lr, b1=opt.b1, b2=opt.b2, eps=opt.eps))
    elif opt.name == 'adamw':
        parts.append(
            optax.adamw(lr, b1=opt.b1, b2=opt.b2, eps=opt.eps, weight_decay=opt.weight_decay)
        )
    elif opt.name == 'adamax':
        parts.append(optax.adamax(lr, b1=opt.b1, b2=opt.b2, eps=opt.eps))
    elif opt.name == 'lamb':
        parts.append(
            optax.lamb(lr, b1=opt.b1, b2=opt.b2, eps=opt.eps, weight_decay=opt.weight_decay)
        )
    elif opt.name == 'sgd':
        parts.append(optax.sgd(lr, momentum=opt.momentum or None))
    elif opt.name == 'rmsprop':
        parts.append(optax.rmsprop(lr, decay=opt.b2, eps=opt.eps, momentum=opt.momentum))
    else:
        raise ValueError(f'unknown optimizer {opt.name!r}')
    return optax.chain(*parts)


def make_optimizers(optim_config, total_steps: int) -> dict[str, optax.GradientTransformation]:
    return {player: make_optimizer(opt, total_steps) for player, opt in optim_config.items()}
