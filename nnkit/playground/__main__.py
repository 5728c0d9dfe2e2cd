"""``python -m nnkit.playground [host=H] [port=P] [token=T] [open=false] [ckpt=PATH]
[overrides ...]``: serve the playground on 127.0.0.1 (a free port unless ``port=`` says), print
its URL, open it. ``host=0.0.0.0`` (or a list, ``host=10.0.0.2,127.0.0.1``) serves a classroom:
every address of the machine, each URL printed with the token every request must hold
(``token=`` chooses it; ``nnkit.playground.access``).
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
from nnkit.playground.access import addresses, check_token, is_loopback, new_token

OWN_KEYS = ("host", "port", "open", "ckpt", "token", "tabs")
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


def _tabs(value: str | None) -> int:
    """``tabs=``: how many tabs train at once (0: the measured default)."""
    if value is None:
        return 0
    if not value.isdigit() or not 0 < int(value) <= 1000:
        raise ValueError(f"tabs={value!r} should be a whole number between 1 and 1000")
    return int(value)


def start(own: dict[str, str], overrides: list[str]) -> tuple[list[str], dict[str, Any] | None]:
    """The overrides every page's run builds on, and the checkpoint it opens (``ckpt=``):
    the checkpoint's own run as overrides, the command line's after them."""
    if "ckpt" not in own:
        return overrides, None
    from nnkit.config.overrides import overrides_for
    from nnkit.inference.page_export import read_checkpoint

    checkpoint = read_checkpoint(own["ckpt"])
    named = [o for o in overrides if o not in STARTS]
    return overrides_for(checkpoint["hyper_parameters"]["config"]) + named, checkpoint


def served_token(hosts: list[str], token: str | None) -> str | None:
    """The token every request must hold: ``token=``'s, a new one where a host reaches beyond
    this machine, else None (loopback serving, the server's own pages only).

    >>> served_token(["127.0.0.1"], None) is None, len(served_token(["0.0.0.0"], None)) > 20
    (True, True)
    """
    if token is not None:
        return check_token(token)
    return None if all(is_loopback(host) for host in hosts) else new_token()


def urls(hosts: list[str], port: int, token: str | None) -> list[str]:
    """The addresses to open: one per address served, each with the token where there is one.

    >>> urls(["127.0.0.2", "127.0.0.3"], 8000, "abcdefgh")
    ['http://127.0.0.2:8000/?token=abcdefgh', 'http://127.0.0.3:8000/?token=abcdefgh']
    """
    query = f"?token={token}" if token else ""
    return [f"http://{address}:{port}/{query}" for address in addresses(hosts)]


async def serve(
    hosts: list[str],
    port: int,
    base: list[str],
    checkpoint: dict[str, Any] | None,
    open_page: bool,
    token: str | None = None,
    tabs: int = 0,
) -> None:
    from aiohttp import web

    from nnkit.playground.server import MAX_TABS, make_app

    origins = [f"http://{host}:{port}" for host in hosts]
    origins += [f"http://localhost:{port}"] if "127.0.0.1" in hosts else []
    app = make_app(base, origins, checkpoint, Path.cwd(), token, tabs or MAX_TABS)
    runner = web.AppRunner(app)
    await runner.setup()
    for host in hosts:
        await web.TCPSite(runner, host, port).start()
    first, *others = urls(hosts, port, token)
    print(f"nnkit playground: {first}  (Ctrl-C stops it)", flush=True)
    for url in others:
        print(f"  also at {url}", flush=True)
    if open_page:
        webbrowser.open(first)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    own, overrides = split(sys.argv[1:] if argv is None else argv)
    try:
        from nnkit.playground.session import Session

        hosts = [host for host in own.get("host", "127.0.0.1").split(",") if host]
        if not hosts:
            raise ValueError("host= should name an address, e.g. 127.0.0.1 or 0.0.0.0")
        port = _port(own.get("port"), hosts[0])
        token = served_token(hosts, own.get("token"))
        tabs = _tabs(own.get("tabs"))
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
        opening = own.get("open", "true") == "true"
        asyncio.run(serve(hosts, port, base, checkpoint, opening, token, tabs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
