"""Bad input from one client never takes the simulator down; other clients keep being served.

These tests speak raw bytes over sockets (no ib_async) for the misbehaving client and use a
real ib_async client alongside to prove the server is still healthy.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest
from ib_async import IB

from ib_gateway_sim import SimulatorThread
from ib_gateway_sim.protocol import encode_message, encode_raw


class RawClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def handshake(self, versions: str = "v157..178") -> list[list[str]]:
        self.send(b"API\0" + encode_raw(versions.encode()))
        return self.frames(1)

    def start_api(self, client_id: int = 50) -> list[list[str]]:
        self.send(encode_message([71, 2, client_id, ""]))
        return self.frames(5)  # 15, 9 and three farm notices

    def frames(self, count: int, timeout: float = 2.0) -> list[list[str]]:
        out: list[list[str]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            while len(self.buffer) >= 4:
                (length,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) < 4 + length:
                    break
                payload, self.buffer = self.buffer[4 : 4 + length], self.buffer[4 + length :]
                out.append(payload.decode().split("\0")[:-1])
            if len(out) >= count:
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buffer += chunk
        return out

    def closed_by_peer(self, timeout: float = 2.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def still_serving(ib: IB) -> None:
    assert ib.isConnected()
    assert ib.reqCurrentTime().year == 2026


def test_garbage_instead_of_handshake_closes_that_socket(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    raw = RawClient(ib_simulator.port)
    raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.closed_by_peer()
    raw.close()
    still_serving(ib_client)
    assert ib_simulator.journal.entries("garbage")


@pytest.mark.parametrize("payload", [b"hello", b"v", b"\xff\xfe\x00", b"vabc..def"])
def test_bad_handshake_closes(ib_client: IB, ib_simulator: SimulatorThread, payload: bytes) -> None:
    raw = RawClient(ib_simulator.port)
    raw.send(b"API\0" + encode_raw(payload))
    assert raw.closed_by_peer()
    raw.close()
    still_serving(ib_client)


def test_oversized_handshake_length_closes(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    raw = RawClient(ib_simulator.port)
    raw.send(b"API\0" + struct.pack(">I", 0x7FFFFFFF))
    assert raw.closed_by_peer()
    still_serving(ib_client)


@pytest.mark.parametrize("versions", ["v100..150", "v179..200"])
def test_version_range_without_178_is_refused_with_a_message(ib_simulator: SimulatorThread, versions: str) -> None:
    raw = RawClient(ib_simulator.port)
    [error] = raw.handshake(versions)
    assert error[:4] == ["4", "2", "-1", "503"] and "178" in error[4]
    assert raw.closed_by_peer()


def test_handshake_answers_version_and_time(ib_simulator: SimulatorThread) -> None:
    raw = RawClient(ib_simulator.port)
    [reply] = raw.handshake("v100..200 +PACEAPI")
    assert reply[0] == "178" and reply[1].startswith("20261124 ")
    startup = raw.start_api()
    assert [f[0] for f in startup] == ["15", "9", "4", "4", "4"]
    assert [f[3] for f in startup[2:]] == ["2104", "2106", "2158"]
    raw.close()


def test_oversized_frame_answers_507_and_closes(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    raw = RawClient(ib_simulator.port)
    raw.handshake()
    raw.start_api()
    raw.send(struct.pack(">I", 0xFFFFFFFF) + b"49\0")
    [error] = raw.frames(1)
    assert error[3] == "507"
    assert raw.closed_by_peer()
    still_serving(ib_client)


@pytest.mark.parametrize("msg_id", ["999", "abc", ""])
def test_unknown_message_id_answers_505_and_closes(ib_client: IB, ib_simulator: SimulatorThread, msg_id: str) -> None:
    raw = RawClient(ib_simulator.port)
    raw.handshake()
    raw.start_api()
    raw.send(encode_raw(msg_id.encode() + b"\0" if msg_id else b""))
    [error] = raw.frames(1)
    assert error[3] == "505"
    assert raw.closed_by_peer()
    still_serving(ib_client)


def test_unsupported_and_malformed_requests_keep_the_connection(ib_simulator: SimulatorThread) -> None:
    raw = RawClient(ib_simulator.port)
    raw.handshake()
    raw.start_api()
    raw.send(encode_message([3, 1, 2, 3]))  # placeOrder: a real IB id the simulator does not serve
    [unsupported] = raw.frames(1)
    assert unsupported[3] == "321"
    raw.send(encode_message([9, 8, 7]))  # contract details cut short
    [malformed] = raw.frames(1)
    assert malformed[3] == "320"
    raw.send(encode_message([59, 1, "x"]))  # market data type not a number
    assert raw.frames(1)[0][3] == "320"
    raw.send(encode_message([49, 1]))  # still served
    [current] = raw.frames(1)
    assert current[0] == "49" and int(current[2]) > 0
    raw.close()


def test_binary_junk_inside_a_frame(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    raw = RawClient(ib_simulator.port)
    raw.handshake()
    raw.start_api()
    raw.send(encode_raw(b"\x00\xff\x80garbage\x00\x01"))
    assert raw.frames(1)[0][3] in ("505", "320")
    still_serving(ib_client)


def test_truncated_frames_and_silent_peers(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    cut = RawClient(ib_simulator.port)
    cut.handshake()
    cut.start_api()
    cut.send(struct.pack(">I", 100) + b"49\0" + b"x" * 10)  # announces 100 bytes, sends 13
    silent = RawClient(ib_simulator.port)  # connects and says nothing
    half = RawClient(ib_simulator.port)
    half.send(b"AP")  # half a handshake
    still_serving(ib_client)
    for raw in (cut, silent, half):
        raw.close()
    time.sleep(0.1)
    still_serving(ib_client)


def test_many_misbehaving_clients_at_once(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    clients = [RawClient(ib_simulator.port) for _ in range(20)]
    for i, raw in enumerate(clients):
        raw.send(bytes([i]) * 64)
    for raw in clients:
        raw.close()
    still_serving(ib_client)
    # A fresh well-behaved client still connects.
    other = IB()
    other.connect("127.0.0.1", ib_simulator.port, clientId=77, readonly=True, timeout=2)
    assert other.isConnected()
    other.disconnect()
