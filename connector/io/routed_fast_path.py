"""The kernel's routed Direct fast path: a tc program on the service interface.

`connector/bpf/routed_direct.c`, compiled to `routed_direct.o` (`make setup`),
sits on the service interface's tc ingress and carries the later UDP datagrams of
connections the nftables rules already decided Direct and SNATed (conntrack's own
entry says so: its mark and its NAT), so that they skip the netfilter hooks. It
keeps no flow table of its own, so there is nothing for user space to install or
remove: it only reads what the program carried (`carried`).

I/O only, through `tcbpf`; `FastPathError` says why the path could not be had, and
the kernel's rules then carry every packet as before (`fast_path.attach`).
"""

from __future__ import annotations

from pathlib import Path

from connector.io.fast_path import FastTotals, attach, per_cpu_totals

OBJECT = Path(__file__).resolve().parent.parent / "bpf" / "routed_direct.o"
PROGRAM, MAP = "routed_direct", "carried"


class RoutedFastPath:
    """The program attached to one interface's ingress."""

    def __init__(self, interface: str, obj: Path = OBJECT) -> None:
        self._program = attach(obj, PROGRAM, interface)
        self.interface = interface
        self._map_fd = self._program.map_fd(MAP)

    def carried(self) -> FastTotals:
        return per_cpu_totals(self._program, self._map_fd)

    def close(self) -> None:
        """Detach (the clsact qdisc goes, with the program); once."""
        self._program.close()
