"""A tc program on an interface's ingress, its hash maps and ring buffers, through libbpf (ctypes).

Shared by the connector (its GENEVE fast path) and the lab (its GWLB's fast path);
imports neither. One error, `TcBpfError`, says why a program could not be had.
"""

from tcbpf.program import RingReader, TcBpfError, TcProgram

__all__ = ["RingReader", "TcBpfError", "TcProgram"]
