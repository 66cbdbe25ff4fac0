"""How tests reach the app over HTTP: as this machine (the embedded default may edit)."""

#: The peer address of in-process test clients: the loopback, like a browser on this machine
#: (Starlette's default, "testclient", is no address and gets no editing rights).
LOOPBACK = ("127.0.0.1", 50000)
