"""Saving on SIGTERM: what batch schedulers and TPU maintenance send before they kill a job.

With one process the handler only sets a flag that the loop reads after each step, so the loop
checkpoints the step it just finished and exits. With several processes all of them must save the
same step, so the loop asks JAX's preemption sync point (set up by `jax.distributed`), which makes
every host agree on the step.
"""

from __future__ import annotations

import logging
import signal
import threading

import jax

log = logging.getLogger(__name__)


class Preempted(Exception):  # noqa: N818 - it is an event, not an error
    def __init__(self, step: int, workdir: str):
        self.step = step
        super().__init__(
            f'stopped by SIGTERM after step {step}; its checkpoint is in {workdir}. '
            'Run the same command to continue.'
        )


class PreemptionWatch:
    def __init__(self) -> None:
        self.requested = False
        self._previous = None
        self._multi = jax.process_count() > 1
        if not self._multi and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame) -> None:
        del signum, frame
        self.requested = True

    def should_stop(self, step: int) -> bool:
        if not self._multi:
            return self.requested
        from jax.experimental import multihost_utils

        try:
            return multihost_utils.reached_preemption_sync_point(step)
        except RuntimeError as e:  # no preemption service on this cluster: stop asking
            log.warning('preemption sync point unavailable (%s); SIGTERM will not save', e)
            self._multi = False
            return False

    def close(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
