"""TensorBoard scalars at the pace of the engine's epoch loop: all of one step's scalars in one
event, encoded and framed here, written to their own event file beside the logger's.

TensorBoard's own writer makes one event per scalar, builds each through protobuf's objects and
frames it with a CRC-32C computed in pure Python: some fifty microseconds a scalar, more than
the native program takes for a whole data epoch of the Playground's problem. The format is
small and fixed — an ``Event`` holds ``wall_time`` (field 1, double), ``step`` (2, varint),
``file_version`` (3, string) or a ``Summary`` (5) of ``Value``s, each a ``tag`` (1, string)
and a ``simple_value`` (2, float); every record is its length, the length's masked CRC-32C,
the event and the event's masked CRC-32C — so it is written directly, the CRC by
``google_crc32c``. TensorBoard reads every event file of a folder as one run.

>>> import tempfile
>>> from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
>>> folder = tempfile.mkdtemp()
>>> with ScalarEvents(folder) as events:
...     events.write({"val/acc": 0.75, "epoch": 3}, step=120)
>>> run = EventAccumulator(folder)
>>> _ = run.Reload()
>>> [(s.step, s.value) for s in run.Scalars("val/acc")]
[(120, 0.75)]
"""

from __future__ import annotations

import functools
import itertools
import os
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import google_crc32c

FLUSH_SECONDS = 1.0  # how long written rows may wait in the buffer (TensorBoard's own: 120 s)
_files = itertools.count()


def _varint(value: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative integer."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (a string or an embedded message)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _masked_crc(data: bytes) -> bytes:
    """TFRecord's masked CRC-32C of ``data``, little-endian."""
    crc = google_crc32c.value(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def record(event: bytes) -> bytes:
    """One TFRecord: the event's length and its CRC, the event, the event's CRC."""
    length = struct.pack("<Q", len(event))
    return length + _masked_crc(length) + event + _masked_crc(event)


@functools.cache
def _value_head(tag: str) -> bytes:
    """A ``Summary.Value`` of ``tag`` up to its float: the field's key and length, the tag,
    the float's key (a tag's head is the same in every event)."""
    body = _field(1, tag.encode()) + b"\x15"
    return b"\x0a" + _varint(len(body) + 4) + body


def scalars_event(values: Mapping[str, float], step: int, wall_time: float) -> bytes:
    """An ``Event`` of ``values`` as one ``Summary`` at ``step``."""
    pack = struct.Struct("<f").pack
    summary = b"".join([_value_head(tag) + pack(value) for tag, value in values.items()])
    head = b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step)
    return head + _field(5, summary)


class ScalarEvents:
    """An event file of scalar rows in ``folder`` (made where missing), opened at the first
    row and flushed at most ``FLUSH_SECONDS`` after a row was written, and on ``flush``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._file: BinaryIO | None = None
        self._flushed_at = 0.0

    def _open(self) -> BinaryIO:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = (
            f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
            f"{os.getpid()}.{next(_files)}.scalars"
        )
        file = open(self.folder / name, "wb")  # noqa: SIM115  # closed by close()
        head = b"\x09" + struct.pack("<d", time.time()) + _field(3, b"brain.Event:2")
        file.write(record(head))
        self._file, self._flushed_at = file, time.monotonic()
        return file

    def write(self, values: Mapping[str, float], step: int) -> None:
        """One row: ``values`` (floats) at ``step``."""
        file = self._file or self._open()
        file.write(record(scalars_event(values, step, time.time())))
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Everything written so far onto the disk's file."""
        if self._file is not None:
            self._file.flush()
            self._flushed_at = time.monotonic()

    def close(self) -> None:
        """Flush and close the file (a later row opens a new one)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ScalarEvents:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
