"""Which TLS servers the connector trusts: the certificates in one folder, nothing else.

In the lab the folder is the lab's trust folder, where the fake cloud's servers
publish their certificates; the system's CAs are never consulted. The context
is made again when the folder's files change (a broker restarted with a new
certificate), and is None while the folder has none.
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TrustFolder:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._seen: tuple[tuple[str, float], ...] = ()
        self._context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext | None:
        if self.folder is None:
            return None
        files = sorted(self.folder.glob("*.pem"))
        seen = tuple((f.name, f.stat().st_mtime) for f in files)
        if seen != self._seen:
            self._seen, self._context = seen, _context_for(files)
        return self._context


def _context_for(files: list[Path]) -> ssl.SSLContext | None:
    if not files:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # peer and name verified
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata="".join(f.read_text() for f in files))
    return context
