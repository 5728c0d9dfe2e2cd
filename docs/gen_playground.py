"""The playground as a static page of the site (mkdocs-gen-files): ``playground/index.html``,
its scripts, ``program.wasm`` (the native program compiled to WebAssembly from this build's
``program.cpp``) and ``catalog.json`` — a reader with the built folder and a browser trains on
it, with no nnkit process anywhere (``nnkit.playground.static_page``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mkdocs_gen_files

from nnkit.playground.static_page import write_page

with tempfile.TemporaryDirectory() as folder:
    for path in write_page(Path(folder)):
        with mkdocs_gen_files.open(f"playground/{path.name}", "wb") as out:
            out.write(path.read_bytes())
