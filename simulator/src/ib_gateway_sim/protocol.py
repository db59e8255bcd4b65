"""TWS wire protocol framing and field encoding, as spoken at server version 178.

Every message is a 4-byte big-endian length followed by ASCII fields, each ended by NUL.
The first field is the message id. The client opens with ``b"API\\0"`` plus one framed
``"v<min>..<max>[ options]"`` string; everything after that is ordinary framed messages
(see ``ib_async/client.py`` and ``ib_async/connection.py`` in the installed client).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

#: The server version the simulator negotiates. 178 (PENDING_PRICE_REVISION) is the highest
#: ib_async 2.1.0 accepts and the plain-text protocol it fully understands; at 196+ msg 17
#: changes shape and at 201+ messages turn into protobuf, which ib_async 2.1.0 cannot decode.
SERVER_VERSION = 178

#: The official API refuses frames above 16 MiB (``MAX_MSG_LEN = 0xFFFFFF`` in ibapi's comm.py).
MAX_FRAME_LENGTH = 0xFFFFFF

API_SIGN = b"API\0"

_VERSION_RANGE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?:\s+(.*))?$")


class ProtocolError(Exception):
    """A peer sent bytes that are not a valid TWS API stream."""


class FrameTooLarge(ProtocolError):
    """A length prefix announced a frame above :data:`MAX_FRAME_LENGTH`."""


def format_field(value: object) -> str:
    """Format one outgoing field the way TWS does.

    ``None`` and NaN are "unset" and become the empty string; booleans are ``1``/``0``;
    floats use ``repr(float)`` (``0.25``, ``6800.0``) as ibapi's ``make_field`` does.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(value)
    return str(value)


def encode_message(fields: Iterable[object]) -> bytes:
    """Frame one message: length prefix plus NUL-terminated fields."""
    payload = "".join(format_field(f) + "\0" for f in fields).encode("ascii", "replace")
    return struct.pack(">I", len(payload)) + payload


def encode_raw(payload: bytes) -> bytes:
    """Frame an already NUL-joined payload (used by tests that speak raw bytes)."""
    return struct.pack(">I", len(payload)) + payload


def decode_payload(payload: bytes) -> list[str]:
    """Split a frame payload into its fields (the trailing NUL yields no extra field)."""
    text = payload.decode("ascii", errors="replace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


@dataclass(frozen=True)
class VersionRange:
    """The client's ``v<min>..<max>`` announcement plus its connect options."""

    min_version: int
    max_version: int
    options: str = ""

    def accepts(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version


def parse_version_range(payload: bytes) -> VersionRange:
    """Parse the handshake payload ``v157..178`` (optionally ``v157..178 +PACEAPI``)."""
    try:
        text = payload.decode("ascii").strip("\0")
    except UnicodeDecodeError as exc:
        raise ProtocolError("handshake is not ASCII") from exc
    match = _VERSION_RANGE.match(text)
    if not match:
        raise ProtocolError(f"bad handshake version string {text[:40]!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    return VersionRange(low, high, match.group(3) or "")


@dataclass
class FrameReader:
    """Incremental frame splitter: feed bytes, iterate complete payloads.

    Raises :class:`FrameTooLarge` as soon as a length prefix above the limit is seen, so a
    hostile prefix never makes the server buffer megabytes.
    """

    max_length: int = MAX_FRAME_LENGTH
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self._buffer.extend(data)

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def frames(self) -> Iterator[bytes]:
        while len(self._buffer) >= 4:
            (length,) = struct.unpack(">I", self._buffer[:4])
            if length > self.max_length:
                raise FrameTooLarge(f"frame length {length} exceeds {self.max_length}")
            if len(self._buffer) < 4 + length:
                return
            payload = bytes(self._buffer[4 : 4 + length])
            del self._buffer[: 4 + length]
            yield payload


class Fields:
    """A cursor over a request's fields with typed readers.

    Raises ``ValueError``/``IndexError`` on malformed input; the session turns those into
    IB error 320 ("Server error when reading an API client request.").
    """

    def __init__(self, fields: list[str]) -> None:
        self._fields = fields
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._fields) - self._pos

    def read_str(self) -> str:
        value = self._fields[self._pos]
        self._pos += 1
        return value

    def read_int(self, default: int = 0) -> int:
        value = self.read_str()
        return int(value) if value else default

    def read_float(self, default: float = 0.0) -> float:
        value = self.read_str()
        return float(value) if value else default

    def read_bool(self) -> bool:
        return self.read_int() != 0

    def skip(self, count: int = 1) -> None:
        if self._pos + count > len(self._fields):
            raise IndexError("message too short")
        self._pos += count

    def optional_str(self) -> str:
        """Read a trailing field that old clients may leave out."""
        return self.read_str() if self.remaining > 0 else ""
