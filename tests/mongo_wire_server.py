"""Run a MongoDB wire-protocol server (mongoeco, in memory) on loopback until SIGTERM.

Usage (in the Python >= 3.13 venv that ``ci/install_services.sh`` makes)::

    .venvs/mongoeco/bin/python tests/mongo_wire_server.py [PORT]

``PORT`` 0 (the default) lets the OS pick a free port. Once the server accepts
connections it prints ``READY <port>`` on stdout; SIGTERM or SIGINT closes it.
This file imports nothing of zarrdask: it runs in a different interpreter.
"""

from __future__ import annotations

import asyncio
import signal
import sys


async def _serve(port: int) -> None:
    from mongoeco.wire import AsyncMongoEcoProxyServer

    server = AsyncMongoEcoProxyServer(host="127.0.0.1", port=port)
    address = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {address.port}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def main(argv: list[str]) -> int:
    """Serve until a signal; return the exit code."""
    port = int(argv[1]) if len(argv) > 1 else 0
    asyncio.run(_serve(port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
