"""Thin adapters between the pure core and the kernel, sockets and files."""
