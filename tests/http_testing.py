"""How tests talk to the app over HTTP: as this machine, and checking refusals."""

from typing import Any

#: The peer address of in-process test clients: the loopback, like a browser on this machine
#: (Starlette's default, "testclient", is no address and gets no editing rights).
LOOPBACK = ("127.0.0.1", 50000)


def refused(response: Any, *words: str) -> str:
    """The message of a 400 answer, checked to name ``words``."""
    assert response.status_code == 400, response.text
    message = str(response.json()["message"])
    for word in words:
        assert word in message, message
    return message
