"""The internet's time server: answers SNTP requests (RFC 4330) on UDP 123.

Stratum 2, its time the host's own clock (every node shares it), so a client
in the lab should measure an offset near zero. Each request becomes an
`ntp.request` event with the source it came from (what a suite checks the
connector's management address against); anything that is not a client
request is an `ntp.malformed` event and gets no answer. `--stratum 0` answers
with a kiss-o'-death (RATE), for clients' error paths.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

from lab.events import EventWriter
from lab.nodes.base import node_arguments, serve_until_signalled

PORT = 123
PACKET = struct.Struct("!BBbbII4sQQQQ")
EPOCH_OFFSET = 2_208_988_800
MODE_CLIENT, MODE_SERVER = 3, 4


def ntp_time(unix_s: float) -> int:
    return int((unix_s + EPOCH_OFFSET) * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def reply(request: bytes, received_s: float, stratum: int = 2) -> bytes | None:
    """The server's answer to a client request, or None for anything else."""
    if len(request) < PACKET.size:
        return None
    first = request[0]
    version, mode = (first >> 3) & 0x07, first & 0x07
    if mode != MODE_CLIENT or not 1 <= version <= 4:
        return None
    transmit = PACKET.unpack_from(request)[-1]
    ref_id = b"LAB\0" if stratum else b"RATE"
    return PACKET.pack(version << 3 | MODE_SERVER, stratum, 6, -20, 0, 0, ref_id,
                       ntp_time(received_s - 16), transmit, ntp_time(received_s),
                       ntp_time(time.time()))


def serve(sock: socket.socket, events: EventWriter, stratum: int) -> None:
    while True:
        try:
            data, peer = sock.recvfrom(2048)
        except OSError:
            return  # closed: the service is stopping
        answer = reply(data, time.time(), stratum)
        if answer is None:
            events.emit("ntp.malformed", src=peer[0], size=len(data))
            continue
        events.emit("ntp.request", src=peer[0], version=(data[0] >> 3) & 0x07)
        sock.sendto(answer, peer)


def main() -> None:
    parser = node_arguments("cclab fake NTP server (SNTP, the host's clock)")
    parser.add_argument("--stratum", type=int, default=2)
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", PORT))
    threading.Thread(target=serve, args=(sock, events, args.stratum), daemon=True).start()

    def stop() -> None:
        with contextlib.suppress(OSError):  # wakes the serving thread where the kernel can
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    serve_until_signalled(events, "ntp", stop)


if __name__ == "__main__":
    main()
