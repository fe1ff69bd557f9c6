"""Run a query service in this process: ``_serve.py CONFIG_JSON PORT_FILE``.

Binds 127.0.0.1 port 0, writes the port to PORT_FILE once listening, serves until killed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys


def main() -> None:
    import uvicorn

    from tasuki.service import ServiceConfig, create_app

    config = ServiceConfig(**json.loads(open(sys.argv[1]).read()))
    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.02)
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(sock.getsockname()[1]))
        import os

        os.replace(sys.argv[2] + ".tmp", sys.argv[2])
        await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
