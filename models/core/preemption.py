"""Saving on SIGTERM (what batch schedulers and TPU maintenance send before they kill a job) and
on SIGINT (Ctrl-C): the run checkpoints the step it just finished and exits (143 or 130).

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


EXIT_CODES = {'SIGTERM': 128 + signal.SIGTERM, 'SIGINT': 128 + signal.SIGINT}


class Preempted(Exception):  # noqa: N818 - it is an event, not an error
    def __init__(self, step: int, workdir: str, signal_name: str = 'SIGTERM'):
        self.step = step
        self.exit_code = EXIT_CODES.get(signal_name, EXIT_CODES['SIGTERM'])
        super().__init__(
            f'stopped by {signal_name} after step {step}; its checkpoint is in {workdir}. '
            'Run the same command to continue.'
        )


class PreemptionWatch:
    def __init__(self) -> None:
        self.requested = False
        self.signal_name = 'SIGTERM'  # a multi-host stop comes from the preemption service
        self._previous: dict[int, object] = {}
        self._multi = jax.process_count() > 1
        # With several processes a stop goes through JAX's preemption service, so that every
        # host saves the same step; a Ctrl-C on one host alone would leave the others waiting.
        if not self._multi and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        del frame
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without the checkpoint
        self.requested = True
        self.signal_name = signal.Signals(signum).name

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
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}
