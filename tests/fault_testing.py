"""How tests make the server lack resources for real and die at a chosen moment: a small disk
(a tmpfs), a store it may not write (root's capabilities dropped), the command line or the
server in a subprocess, killed at a named step of an import."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from mutuelle.core.config import Settings
from mutuelle.store.faults import FAULT_VARIABLE

#: Runs a command as root without any capability: file permissions apply to it.
UNPRIVILEGED = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]
CLI = [sys.executable, "-m", "mutuelle.cli"]


def unavailable(reason: str) -> NoReturn:
    """Skip a test this machine cannot run, but fail it in CI (like the PostgreSQL fixture)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """``folder`` as a file system of ``size`` (a tmpfs), unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                              str(folder)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        unavailable(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        # lazily: this process may still hold a lock file or a DuckDB cursor there
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def require_unprivileged() -> None:
    """Skip (fail in CI) where root's capabilities cannot be dropped."""
    try:
        probe = subprocess.run([*UNPRIVILEGED, "grep", "CapEff", "/proc/self/status"],
                               capture_output=True, text=True, check=False)
    except FileNotFoundError:
        unavailable("setpriv is not installed")
    if probe.returncode != 0 or int(probe.stdout.split()[-1], 16) != 0:
        unavailable(f"cannot drop capabilities here: {probe.stderr.strip() or probe.stdout}")


def make_unwritable(folder: Path) -> None:
    """Take the write permission away from ``folder`` and everything in it."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a command line or server process on ``settings``' store."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MUTUELLE_") or k == "MUTUELLE_FIXTURES"}
    env |= {"MUTUELLE_HOME": str(settings.home),
            "MUTUELLE_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit, **extra}
    if settings.database_url:
        env["MUTUELLE_DATABASE_URL"] = settings.database_url
    return env


def run_cli(settings: Settings, *args: str, fault: str | None = None,
            unprivileged: bool = False, **extra: str) -> subprocess.CompletedProcess[str]:
    """``mutuelle ARGS`` in its own process; ``fault`` names the step where it kills itself."""
    env = cli_env(settings, **extra)
    if fault:
        env[FAULT_VARIABLE] = fault
    command = [*UNPRIVILEGED, *CLI, *args] if unprivileged else [*CLI, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def error_lines(output: str) -> list[str]:
    """The lines of a command's output that report an error."""
    return [line for line in output.splitlines() if line.startswith("error:")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server_process(settings: Settings, log: list[str], *,
                   unprivileged: bool = False) -> Iterator[str]:
    """The portal served by uvicorn in its own process (optionally without root's
    capabilities); yields its base URL once it has started; its log lines go to ``log``."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "mutuelle.app:create_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"]
    if unprivileged:
        command = [*UNPRIVILEGED, *command]
    process = subprocess.Popen(command, env=cli_env(settings), stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    try:
        for line in process.stderr:  # uvicorn says when it listens (or why it stopped)
            log.append(line)
            if "Uvicorn running on" in line:
                break
        else:
            raise RuntimeError("the server did not start:\n" + "".join(log))
        drain = threading.Thread(target=lambda: log.extend(process.stderr or ()), daemon=True)
        drain.start()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def big_csv(path: Path, rows: int = 120_000) -> Path:
    """A CSV of about 50 bytes a row that compresses badly (more than a small disk holds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write("code;nom;valeur\n")
        for i in range(rows):
            out.write(f"{i:06d};{(i * 2654435761) % 4294967296:010x}-{i * 7919 % 10007};"
                      f"{(i * 40503) % 65536 / 3:.6f}\n")
    return path
