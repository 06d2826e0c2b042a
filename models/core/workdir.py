"""A workdir has one writer at a time and is checked before anything is compiled.

The lock is `fcntl.flock` on `<workdir>/.lock`, held by process 0 for the whole run. The kernel
drops it when the process dies, however it dies, so a killed run never leaves a lock that blocks
the rerun; the file's text (pid, host, start time, command) is only there to name the holder in
the refusal. flock works on local filesystems and NFS; a workdir on an object-store mount
(gcsfuse) gets no mutual exclusion from it.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import socket
import sys

LOCK_NAME = '.lock'


class WorkdirError(RuntimeError):
    """The workdir cannot be used: not a directory, not writable, or held by another run."""


def prepare(workdir: str) -> None:
    """Creates the workdir and proves it writable, with one clear error otherwise."""
    if '://' in workdir:
        raise WorkdirError(
            f'--workdir {workdir}: a bucket URL is not supported (metrics and samples are written '
            'with plain file IO); use a mounted path every host sees (gcsfuse, NFS)'
        )
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise WorkdirError(f'--workdir {workdir} exists and is not a directory')
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, f'.write_probe_{os.getpid()}')
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as e:
        raise WorkdirError(f'--workdir {workdir} is not writable: {e.strerror or e}') from None


class WorkdirLock:
    """Exclusive ownership of a workdir for this process's lifetime (or until `release`)."""

    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, LOCK_NAME)
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors='replace').strip() or 'unknown process'
            os.close(fd)
            raise WorkdirError(
                f'{os.path.dirname(self.path)} is in use by another run ({holder}); wait for it, '
                'stop it, or use another --workdir'
            ) from None
        started = datetime.datetime.now().isoformat(timespec='seconds')
        text = f'pid {os.getpid()} on {socket.gethostname()} since {started}: {" ".join(sys.argv)}'
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WorkdirLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
