"""The app served on a free local port inside the test process, for HTTP and browser tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from msdepth.app.server import AppSettings, create_app, make_server, open_socket, url_of


@contextlib.contextmanager
def running_app(predictor: Any, settings: AppSettings | None = None) -> Iterator[str]:
    """Serve ``predictor`` on 127.0.0.1 at a port the system picks; yields the page's URL."""
    sock = open_socket("127.0.0.1", 0)
    server = make_server(create_app(predictor, settings), quiet=True)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
