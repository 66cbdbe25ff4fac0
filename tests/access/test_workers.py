"""Server mode: ``mutuelle serve --workers 2`` on PostgreSQL gives the same answers from every
worker. Through HTTP with API keys, on a loopback port: an import, a publication, an access
change and a revoked key made through one worker are seen at once by both, and reads made
while an import runs see the old version or the new one, never anything else.

Which worker answered is read from the kernel, not from the app: the server-side socket of
each kept-alive connection belongs to one worker process (``/proc``)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mutuelle.access import accounts, keys
from mutuelle.catalog.db import sessions
from mutuelle.core.config import Settings

from http_testing import admin_key  # type: ignore[import-not-found]

pytestmark = pytest.mark.postgres

#: Reads per phase: at least this many from each worker, at most READS_MAX in all.
READS_PER_WORKER = 5
READS_MAX = 400
#: How long the server may take to start, and a phase of reads to reach both workers.
START_SECONDS = 90
PHASE_SECONDS = 60


# --- which worker holds a connection --------------------------------------------------------

def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        children = [p for p, parent in parents.items() if parent == current]
        out += children
        stack += children
    return out


def _socket_inodes(pid: int) -> set[int]:
    found = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                found.add(int(link[8:-1]))
    except OSError:
        pass
    return found


def _tcp_sockets() -> Iterator[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every TCP socket of the machine."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            yield (int(parts[1].rsplit(":", 1)[1], 16), int(parts[2].rsplit(":", 1)[1], 16),
                   parts[3], int(parts[9]))


def _server_socket(server_port: int, client_port: int) -> int | None:
    """The inode of the server's end of the connection from ``client_port``."""
    return next((inode for local, remote, _state, inode in _tcp_sockets()
                 if local == server_port and remote == client_port), None)


# --- the served portal ------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    worker: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Served:
    """``mutuelle serve --workers 2`` on a loopback port, and kept-alive connections to it."""

    process: subprocess.Popen[bytes]
    port: int
    settings: Settings
    connections: list[http.client.HTTPConnection] = field(default_factory=list)

    def _worker_of(self, connection: http.client.HTTPConnection) -> int:
        inode = _server_socket(self.port, connection.sock.getsockname()[1])
        for pid in _descendants(self.process.pid):
            if inode is not None and inode in _socket_inodes(pid):
                return pid
        raise AssertionError("no worker holds this connection")

    def call(self, method: str, path: str, *, headers: dict[str, str] | None = None,
             body: bytes | None = None, json_body: Any = None,
             connection: http.client.HTTPConnection | None = None) -> Answer:
        """One request on ``connection`` (a new one if none, or if the server closed it)."""
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            conn = connection if connection is not None and attempt == 0 else self.connect()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()   # the worker closed an idle kept-alive connection: a new one
                if conn in self.connections:
                    self.connections.remove(conn)
                continue
            return Answer(response.status, data, {k.lower(): v for k, v in response.getheaders()},
                          self._worker_of(conn))
        raise AssertionError(f"{method} {path}: the server closed two connections in a row")

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.connect()
        self.connections.append(conn)
        return conn

    def everywhere(self, method: str, path: str, check: Callable[[Answer], None], *,
                   headers: dict[str, str] | None = None, json_body: Any = None) -> dict[int, int]:
        """Ask the same thing many times over kept-alive connections until both workers have
        answered at least READS_PER_WORKER times, checking every answer; answers per worker."""
        per_worker: dict[int, int] = {}
        deadline = time.monotonic() + PHASE_SECONDS
        asked = 0
        while len(per_worker) < 2 or min(per_worker.values()) < READS_PER_WORKER:
            assert asked < READS_MAX and time.monotonic() < deadline, \
                f"{path}: only {per_worker} answers per worker after {asked} requests"
            # new connections now and then, so that the kernel hands some to each worker
            conn = self.connect() if asked % 4 == 0 or not self.connections else self.connections[asked % len(self.connections)]
            answer = self.call(method, path, headers=headers, json_body=json_body, connection=conn)
            check(answer)
            per_worker[answer.worker] = per_worker.get(answer.worker, 0) + 1
            asked += 1
        return per_worker

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
        self.connections.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(empty_pg: Callable[[], str], tmp_path: Path) -> Iterator[Served]:
    url = empty_pg()   # an empty schema: the workers start on a catalogue never migrated
    home = tmp_path / "home"
    port = _free_port()
    env = {**os.environ, "MUTUELLE_HOME": str(home), "MUTUELLE_DATABASE_URL": url,
           "MUTUELLE_DUCKDB_MEMORY_LIMIT": "512MB", "MUTUELLE_WARM_UP": "0"}
    command = [str(Path(sys.executable).with_name("mutuelle")), "serve", "--workers", "2",
               "--host", "127.0.0.1", "--port", str(port), "--no-warm-up"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Served(process, port, Settings(home=home, database_url=url, duckdb_memory_limit="512MB"))
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, f"mutuelle serve stopped: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"mutuelle serve did not start: {log.read_text()[-3000:]}"
            try:
                if server.call("GET", "/api/me").status == 200:
                    break
            except (ConnectionRefusedError, AssertionError):
                pass
            server.close()
            time.sleep(0.1)
        server.everywhere("GET", "/api/me", lambda a: None)   # both workers are up
        yield server
    finally:
        server.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        text = log.read_text()
        assert "Traceback" not in text and "InternalError" not in text, text[-3000:]


# --- the checks -------------------------------------------------------------------------------

def _status(expected: int) -> Callable[[Answer], None]:
    def check(answer: Answer) -> None:
        assert answer.status == expected, f"worker {answer.worker}: {answer.status} {answer.body[:300]!r}"
    return check


def _records(expected: int) -> Callable[[Answer], None]:
    def check(answer: Answer) -> None:
        assert answer.status == 200, f"worker {answer.worker}: {answer.status} {answer.body[:300]!r}"
        assert answer.json()["total_count"] == expected, f"worker {answer.worker}: {answer.json()}"
    return check


def _csv(rows: int) -> bytes:
    lines = ["code;valeur"] + [f"{i:05d};{i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _upload(server: Served, headers: dict[str, str], slug: str, rows: int) -> Answer:
    boundary = "mutuelle-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{slug}.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + _csv(rows) + (
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"publish\"\r\n\r\ntrue\r\n"
            f"--{boundary}--\r\n").encode()
    return server.call("POST", f"/api/datasets/{slug}/versions", body=body,
                       headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})


RECORDS = "/api/explore/v2.1/catalog/datasets/eau/records?limit=1"
CATALOGUE = "/api/explore/v2.1/catalog/datasets?limit=10"


def test_two_workers_on_postgresql_answer_every_request_as_the_last_committed_change_says(served: Served) -> None:
    admin = admin_key(served.settings)
    assert served.call("POST", "/api/organisations", headers=admin,
                       json_body={"name": "Ville", "slug": "ville"}).status == 201
    made = served.call("POST", "/api/datasets", headers=admin,
                       json_body={"organisation": "ville", "slug": "eau", "title": "Eau potable"})
    assert made.status == 201
    served.everywhere("GET", "/api/datasets/eau", _status(404))   # a draft: hidden from visitors
    served.everywhere("GET", "/api/datasets/eau", _status(200), headers=admin)

    assert _upload(served, admin, "eau", 2).status == 201           # an import
    served.everywhere("GET", "/api/datasets/eau", _status(404))
    assert served.call("POST", "/api/datasets/eau/publish", headers=admin).status == 200   # a publication
    served.everywhere("GET", RECORDS, _records(2))
    served.everywhere("GET", CATALOGUE, _records(1))

    # an import while both workers read: the old version or the new one, then only the new one
    seen: list[int] = []
    uploaded: list[Answer] = []
    other = Served(served.process, served.port, served.settings)   # its own connections
    importer = threading.Thread(target=lambda: uploaded.append(_upload(other, admin, "eau", 3)))
    importer.start()
    reads = 0
    while importer.is_alive() and reads < READS_MAX:
        answer = served.call("GET", RECORDS, connection=served.connections[reads % len(served.connections)])
        assert answer.status == 200, answer.body[:300]
        seen.append(answer.json()["total_count"])
        reads += 1
    importer.join(timeout=PHASE_SECONDS)
    other.close()
    assert uploaded and uploaded[0].status == 201, uploaded and uploaded[0].body[:300]
    assert set(seen) <= {2, 3}, seen
    served.everywhere("GET", RECORDS, _records(3))
    served.everywhere("GET", "/api/datasets/eau/versions/latest/download/csv",
                      lambda a: _assert(a.status == 200 and a.body.count(b"\n") == 4, a))

    # an access change, and back
    assert served.call("PUT", "/api/datasets/eau/access", headers=admin,
                       json_body={"access": "internal"}).status == 200
    served.everywhere("GET", RECORDS, _status(404))
    served.everywhere("GET", CATALOGUE, _records(0))
    served.everywhere("GET", RECORDS, _records(3), headers=admin)
    assert served.call("PUT", "/api/datasets/eau/access", headers=admin,
                       json_body={"access": "public"}).status == 200
    served.everywhere("GET", RECORDS, _records(3))

    # a revoked key: refused by the next request, whichever worker answers it
    reader = _reader_key(served)
    served.everywhere("GET", "/api/me", lambda a: _assert(a.json()["user"]["email"] == "lecteur@example.org", a),
                      headers=reader.headers)
    _revoke_from_a_session(served, reader)
    served.everywhere("GET", "/api/me", _status(401), headers=reader.headers)
    served.everywhere("GET", RECORDS, _status(401), headers=reader.headers)

    # text with NUL or control characters is refused by both workers
    for name in ("Ville\u0000", "Ville\u0007"):
        served.everywhere("POST", "/api/organisations", lambda a: _assert(
            a.status == 422 and "name" in a.json()["message"], a), headers=admin, json_body={"name": name})
    served.everywhere("GET", "/api/organisations", lambda a: _assert(a.json()["total_count"] == 1, a))


def _assert(condition: bool, answer: Answer) -> None:
    assert condition, f"worker {answer.worker}: {answer.status} {answer.body[:300]!r}"


@dataclass
class Reader:
    key_id: str
    headers: dict[str, str]


def _reader_key(served: Served) -> Reader:
    with sessions(served.settings)() as session:
        user, _ = accounts.create_user(session, email="lecteur@example.org", password="correct horse battery")
        made = keys.create_key(session, user, name="script", scope="read")
        session.commit()
        return Reader(made.key.id, {"Authorization": f"Apikey {made.secret}"})


def _revoke_from_a_session(served: Served, reader: Reader) -> None:
    """Its owner signs in and revokes the key, as a browser would (cookies, CSRF token)."""
    conn = served.connect()
    signed = served.call("POST", "/connexion", connection=conn,
                         body=b"email=lecteur%40example.org&password=correct+horse+battery",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert signed.status == 303, signed.body[:300]
    cookies = {"mutuelle_session": re.search(r"mutuelle_session=([^;]+)", signed.headers["set-cookie"]).group(1)}  # type: ignore[union-attr]
    page = served.call("GET", "/compte", connection=conn,
                       headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    nonce = re.search(r"mutuelle_csrf=([^;]+)", page.headers.get("set-cookie", ""))
    if nonce:
        cookies["mutuelle_csrf"] = nonce.group(1)
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.body.decode()).group(1)  # type: ignore[union-attr]
    revoked = served.call("DELETE", f"/api/me/keys/{reader.key_id}", connection=conn, headers={
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "X-CSRF-Token": token})
    assert revoked.status == 204, revoked.body[:300]


def _listening_sockets(port: int) -> set[int]:
    """The inodes of the sockets listening on ``port`` (state 0A in /proc/net/tcp)."""
    return {inode for local, _remote, state, inode in _tcp_sockets()
            if local == port and state == "0A"}


def test_each_worker_listens_on_a_socket_of_its_own(served: Served) -> None:
    """SO_REUSEPORT: the kernel spreads new connections over the workers' sockets evenly, where
    one shared socket let the first worker to wake take most of a burst (86 of 100)."""
    listening = _listening_sockets(served.port)
    workers = [pid for pid in _descendants(served.process.pid) if _socket_inodes(pid) & listening]
    assert len(workers) == 2 and len(listening) == 2
    assert all(len(_socket_inodes(pid) & listening) == 1 for pid in workers)
    # a burst of new connections lands on both
    burst = [served.connect() for _ in range(40)]
    held = [served.call("GET", "/api/me", connection=conn).worker for conn in burst]
    assert min(held.count(pid) for pid in workers) >= 8, held
