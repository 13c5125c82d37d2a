"""Ctrl-C for the demo alone: it takes the terminal's foreground while it runs.

A terminal sends Ctrl-C to its whole foreground process group: the demo, but also `make` and
`uv run` above it. `make` then dies of SIGINT (exit 130) however cleanly the demo stopped. As its
own foreground process group the demo is the only one to get Ctrl-C; it hands the terminal back
when it is done, so `make demo` ends with the demo's own exit code, 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def own_foreground() -> Iterator[None]:
    """Do nothing without a controlling terminal, in the background, or as a session leader."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:  # no controlling terminal (a service, a test, `setsid`)
        yield
        return
    ignored = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # tcsetpgrp from a new group
    before = None
    try:
        if os.tcgetpgrp(tty) == os.getpgrp() and os.getsid(0) != os.getpid():
            os.setpgid(0, 0)
            os.tcsetpgrp(tty, os.getpgrp())
            before = os.getpgid(os.getppid())
    except OSError:
        before = None
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                os.tcsetpgrp(tty, before)
        signal.signal(signal.SIGTTOU, ignored)
        os.close(tty)
