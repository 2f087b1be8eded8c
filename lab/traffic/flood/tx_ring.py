"""Send frames from a PACKET_MMAP TX ring: the kernel walks the ring in one system call.

The ring holds the variants of a profile (copied in once); each round marks
every frame "send request" and calls `send`, which returns once the kernel has
put them all on the wire (TPACKET_V2, blocking). PACKET_QDISC_BYPASS hands
frames straight to the device, as a traffic generator wants. Rounds repeat
until `count` frames have gone or `duration_s` has passed, whichever is first:
a flood always stops by itself.
"""

from __future__ import annotations

import mmap
import socket
import struct
import time
from dataclasses import dataclass

SOL_PACKET = 263
PACKET_VERSION, PACKET_TX_RING, PACKET_QDISC_BYPASS = 10, 13, 20
TPACKET_V2 = 1
TP_STATUS_SEND_REQUEST = 1
FRAME_SIZE = 2048
DATA_OFFSET = 32  # TPACKET_ALIGN(sizeof(struct tpacket2_hdr)): where the kernel reads the frame
FRAMES_PER_BLOCK = 32  # 64 KiB blocks
_STATUS_LEN = struct.Struct("=II")  # tp_status, tp_len
_STATUS = struct.Struct("=I")


@dataclass(frozen=True, slots=True)
class SendResult:
    frames: int
    seconds: float
    ended: str = ""  # what ended it: "count", "duration" or (mmsg) "stopped"

    @property
    def pps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class TxRing:
    def __init__(self, iface: str, frames: list[bytes]) -> None:
        if not frames:
            raise ValueError("nothing to send")
        if max(len(f) for f in frames) > FRAME_SIZE - DATA_OFFSET:
            raise ValueError(f"frames must be at most {FRAME_SIZE - DATA_OFFSET} bytes")
        slots = -(-len(frames) // FRAMES_PER_BLOCK) * FRAMES_PER_BLOCK
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self.sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
            self.sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
            request = struct.pack("IIII", FRAMES_PER_BLOCK * FRAME_SIZE,
                                  slots // FRAMES_PER_BLOCK, FRAME_SIZE, slots)
            self.sock.setsockopt(SOL_PACKET, PACKET_TX_RING, request)
            self.sock.bind((iface, 0))
            self.ring = mmap.mmap(self.sock.fileno(), slots * FRAME_SIZE)
        except OSError:
            self.sock.close()
            raise
        self.frames = len(frames)
        for i, frame in enumerate(frames):
            base = i * FRAME_SIZE
            self.ring[base + DATA_OFFSET:base + DATA_OFFSET + len(frame)] = frame
            _STATUS_LEN.pack_into(self.ring, base, 0, len(frame))

    def send(self, count: int, duration_s: float) -> SendResult:
        """Send `count` frames (cycling through the ring), or for `duration_s`: the first."""
        sent, started = 0, time.perf_counter()
        deadline = started + duration_s
        offsets = [i * FRAME_SIZE for i in range(self.frames)]
        while sent < count and time.perf_counter() < deadline:
            batch = offsets[:min(self.frames, count - sent)]
            for base in batch:
                _STATUS.pack_into(self.ring, base, TP_STATUS_SEND_REQUEST)
            self.sock.send(b"")
            sent += len(batch)
        return SendResult(sent, time.perf_counter() - started,
                          ended="count" if sent >= count else "duration")

    def close(self) -> None:
        self.ring.close()
        self.sock.close()
