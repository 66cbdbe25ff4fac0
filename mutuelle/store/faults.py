"""Named steps of the version commit protocol where a test can make the process die at once
(``MUTUELLE_FAULT_AT=<step>``: SIGKILL, as a power cut or the OOM killer would). Inert unless
the variable is set; it is read at each step, not a setting, since only tests set it.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

FAULT_VARIABLE = "MUTUELLE_FAULT_AT"

#: The steps of an import in the order they happen (see ``mutuelle.ingest.service``):
#: reading the file, the file staged in the work folder, the version folder half built in the
#: work folder, built and synced, moved into the store, recorded in the catalogue.
COMMIT_STEPS = ("read", "staged", "assembling", "assembled", "placed", "recorded")


def fault_point(step: str) -> None:
    """Die here, without any clean-up, when ``MUTUELLE_FAULT_AT`` names this step."""
    if os.environ.get(FAULT_VARIABLE) == step:
        log.warning("fault_injected step=%s pid=%s", step, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)
