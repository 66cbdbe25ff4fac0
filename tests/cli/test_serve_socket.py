"""``mutuelle serve --workers N``: connections accepted on uvicorn's shared socket answer
without Nagle's delay (the socket uvicorn binds has protocol 0, so asyncio does not set
TCP_NODELAY by itself)."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from mutuelle.cli import NoDelayH11Protocol


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _nodelay_of_accepted(protocol: type[H11Protocol]) -> int:
    """TCP_NODELAY of a connection accepted through ``protocol`` on a socket bound as uvicorn's
    workers bind theirs (``socket.socket(family=AF_INET)``: protocol 0)."""
    config = Config(app=_hello, log_level="warning")
    config.load()
    state = ServerState()
    seen: list[int] = []

    class Probe(protocol):  # type: ignore[valid-type, misc]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            seen.append(transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY))

    async def run() -> bytes:
        listening = socket.socket(family=socket.AF_INET)
        listening.bind(("127.0.0.1", 0))
        assert listening.proto == 0
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: Probe(config=config, server_state=state, app_state={}), sock=listening)
        reader, writer = await asyncio.open_connection(*listening.getsockname())
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        writer.close()
        server.close()
        await server.wait_closed()
        return answer

    # in a thread of its own: a browser test before this one may leave a loop running here
    with ThreadPoolExecutor(1) as thread:
        answer = thread.submit(lambda: asyncio.run(run())).result()
    assert answer.startswith(b"HTTP/1.1 200") and b"\r\nok\r\n" in answer
    return seen[0]


def test_connections_on_a_workers_socket_are_sent_without_delay() -> None:
    assert _nodelay_of_accepted(NoDelayH11Protocol) != 0


def test_without_it_asyncio_leaves_nagle_on_for_such_a_socket() -> None:
    """The reason for the class: if asyncio or uvicorn change, this one tells."""
    if _nodelay_of_accepted(H11Protocol) != 0:
        pytest.skip("this Python sets TCP_NODELAY on protocol-0 sockets by itself")


def _response(connection: socket.socket) -> bytes:
    """One whole HTTP/1.1 answer (headers, then Content-Length bytes of body); b"" if closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_serve_keeps_an_idle_connection_longer_than_clients_keep_theirs(tmp_path: Any) -> None:
    """httpx keeps an idle connection 5 s: were the server to close its own at 5 s too (uvicorn's
    default), a client would now and then send on a connection being closed."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MUTUELLE_HOME": str(tmp_path / "home"), "MUTUELLE_WARM_UP": "0"}
    mutuelle = str(Path(sys.executable).parent / "mutuelle")  # the installed command
    server = subprocess.Popen([mutuelle, "serve", "--host", "127.0.0.1",
                               "--port", str(port), "--no-warm-up"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.2)
        with connection:
            ask = b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n"
            for wait in (0, 6.5):
                time.sleep(wait)
                connection.sendall(ask)
                answer = _response(connection)
                assert answer.startswith(b"HTTP/1.1 200"), (wait, answer[:200])
    finally:
        server.terminate()
        server.wait(timeout=30)
