"""A native DNS server for reference measurements: Debian's unbound, answering a fixed zone.

The zone is written as unbound `local-data` (authoritative answers from memory,
nothing recursive): the same work a connector does when it answers a name from
its own tables. No forwarders, no root hints used, no trust-anchor updates:
unbound never sends a query anywhere. Started with `-d` and stopped by signal.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from lab.events import EventWriter
from lab.nodes.base import node_arguments, serve_until_signalled


def unbound_config(listen: str, zone: str, records: list[tuple[str, str]], workdir: Path) -> str:
    lines = ["server:", f"  interface: {listen}", "  port: 53", "  do-daemonize: no",
             "  use-syslog: no", "  username: \"\"", "  chroot: \"\"",
             f"  directory: \"{workdir}\"", "  pidfile: \"\"", "  num-threads: 1",
             "  access-control: 0.0.0.0/0 allow", "  module-config: \"iterator\"",
             "  do-ip6: no", "  verbosity: 0", "  ratelimit: 0", "  ip-ratelimit: 0",
             f"  local-zone: \"{zone}.\" static"]
    lines += [f"  local-data: \"{name}. 60 IN A {addr}\"" for name, addr in records]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = node_arguments("cclab native DNS server (unbound, local data only)")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--zone", required=True, help="the zone, e.g. bench.example")
    parser.add_argument("--records", required=True, type=Path,
                        help="file of `name address` lines")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    if shutil.which("unbound") is None:
        raise SystemExit("unbound not found; hint: apt-get install unbound")
    records = [tuple(line.split()[:2]) for line in args.records.read_text().splitlines()
               if line.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="cclab-unbound-"))
    config = workdir / "unbound.conf"
    config.write_text(unbound_config(args.listen, args.zone, records, workdir))
    proc = subprocess.Popen(["unbound", "-d", "-c", str(config)], stdout=subprocess.DEVNULL)
    _wait_answering(args.listen, proc)
    threading.Thread(target=proc.wait, daemon=True).start()

    def stop() -> None:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    serve_until_signalled(events, "dns-native", stop)


def _wait_answering(listen: str, proc: subprocess.Popen[bytes]) -> None:
    import dns.message
    import dns.query

    for _ in range(100):
        if proc.poll() is not None:
            raise SystemExit(f"unbound exited with {proc.returncode}")
        try:
            dns.query.udp(dns.message.make_query("ready.invalid", "A"), listen, timeout=0.1)
            return
        except Exception:  # not listening yet
            continue
    raise SystemExit("unbound did not answer within 10 s")


if __name__ == "__main__":
    main()
