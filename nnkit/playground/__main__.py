"""``python -m nnkit.playground [host=H] [port=P] [open=false] [ckpt=PATH] [overrides ...]``:
serve the playground on 127.0.0.1 (a free port unless ``port=`` says), print its URL, open it.
It starts on the TensorFlow Playground's first page (the circle, 2-4-2-1 tanh, learning rate
0.03) unless the overrides say otherwise; ``ckpt=`` opens a checkpoint of a command-line run
(its settings, weights, optimizer state and epoch) and trains on from there.

The overrides are ``nnkit.train``'s (``data=spiral model.hidden=[8,8]``): the page starts
there, and a bad one is refused as ``nnkit.train`` refuses it (one line, exit 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnkit.errors import USER_ERRORS, one_line

OWN_KEYS = ("host", "port", "open", "ckpt")
STARTS = ("data=circular", "model.hidden=[4,2]", "model.activation=tanh", "optimizer.lr=0.03")
# the TensorFlow Playground's first page; any of them the command line names is its own
STARTUP_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, ValueError, OSError)


def split(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The playground's own ``key=value`` arguments, and the training overrides.

    >>> own, overrides = split(["port=8001", "data=xor"])
    >>> own, overrides[-2:]  # the Playground's start, but for the data named
    ({'port': '8001'}, ['optimizer.lr=0.03', 'data=xor'])
    """
    own, overrides = {}, []
    for arg in argv:
        key, _, value = arg.partition("=")
        if key in OWN_KEYS:
            own[key] = value
        else:
            overrides.append(arg)
    named = {arg.partition("=")[0].lstrip("+~") for arg in overrides}
    return own, [start for start in STARTS if start.partition("=")[0] not in named] + overrides


def _port(value: str | None, host: str) -> int:
    if value is None or value == "":
        with socket.socket() as probe:
            probe.bind((host, 0))
            return probe.getsockname()[1]
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"port={value!r} should be a whole number between 1 and 65535")
    return int(value)


def start(own: dict[str, str], overrides: list[str]) -> tuple[list[str], dict[str, Any] | None]:
    """The overrides every page's run builds on, and the checkpoint it opens (``ckpt=``):
    the checkpoint's own run as overrides, the command line's after them."""
    if "ckpt" not in own:
        return overrides, None
    from nnkit.config.overrides import overrides_for
    from nnkit.runs.checkpoints import load_checkpoint

    checkpoint = load_checkpoint(own["ckpt"])
    named = [o for o in overrides if o not in STARTS]
    return overrides_for(checkpoint["hyper_parameters"]["config"]) + named, checkpoint


async def serve(
    host: str, port: int, base: list[str], checkpoint: dict[str, Any] | None, open_page: bool
) -> None:
    from aiohttp import web

    from nnkit.playground.server import make_app

    origins = [f"http://{host}:{port}"] + (
        [f"http://localhost:{port}"] if host == "127.0.0.1" else []
    )
    runner = web.AppRunner(make_app(base, origins, checkpoint, Path.cwd()))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    url = f"http://{host}:{port}/"
    print(f"nnkit playground: {url}  (Ctrl-C stops it)", flush=True)
    if open_page:
        webbrowser.open(url)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    own, overrides = split(sys.argv[1:] if argv is None else argv)
    try:
        from nnkit.playground.session import Session

        host = own.get("host", "127.0.0.1")
        port = _port(own.get("port"), host)
        if own.get("open", "true") not in ("true", "false"):
            raise ValueError(f"open={own['open']!r} should be true or false")
        base, checkpoint = start(own, overrides)
        session = Session(base)  # every mistake refused here, as nnkit.train refuses it
        if checkpoint is not None:
            session.restore(checkpoint)
    except STARTUP_ERRORS as error:
        print(f"nnkit.playground: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, base, checkpoint, own.get("open", "true") == "true"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
