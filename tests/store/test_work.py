"""The work folder's clean-up while other workers run: a leftover older than the setting
``work_leftover_hours`` belongs to no live import and goes; a younger one stays."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from mutuelle.core.config import Settings
from mutuelle.store.work import clean_work

# Holds the work folder's lock as another live worker does, until its stdin is closed.
HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_SH)
print("held", flush=True)
sys.stdin.read()
"""


def _aged(path: os.PathLike[str], hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_leftovers_older_than_the_setting_go_while_another_worker_runs(settings: Settings) -> None:
    settings = settings.with_(work_leftover_hours=3)
    locks = settings.work_dir / "locks"
    locks.mkdir(parents=True)
    dead = settings.work_dir / "stage-dead.parquet"
    live = settings.work_dir / "stage-live.parquet"
    for path, hours in ((dead, 4), (live, 2)):
        path.write_bytes(b"PAR1")
        _aged(path, hours)
    worker = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(locks / "work.lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "held"
        cleaning = clean_work(settings)
    finally:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait(timeout=30)
    assert not cleaning.exclusive and cleaning.removed == 1
    assert not dead.exists() and live.exists()
