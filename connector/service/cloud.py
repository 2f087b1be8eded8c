"""The connector's management plane towards the (fake) ZPA cloud: enroll, upload.

All of it leaves from the management address, over TLS 443, the cloud's
certificate checked against the trust folder (spec §2: management outbound
443). At start the service enrolls (retrying for `ENROLL_WAIT_S`: the cloud may
come up after it) and lays the returned policy over its config; without an
answer it runs on its file and says so (`cloud.enroll_failed`). While running,
session records (`flow.new`, `zpa.stream`) are queued as they are logged and
uploaded every `cloud_upload_s` with the licence count (workloads that
completed an exchange in the window since the last count the cloud accepted:
windows tile time, so a late wake-up on a loaded machine widens one window
instead of losing a workload between two); a failed upload is counted and its
records are kept for the next (the queue is bounded: the oldest are dropped).
http.client runs in the default executor, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from connector.core.policy import Identity
from connector.io.events import EventLog
from connector.io.trust import TrustFolder
from connector.service.counters import Counters

CLOUD_PORT = 443
ENROLL_WAIT_S = 20.0
UPLOADED_KINDS = frozenset({"flow.new", "zpa.stream"})
QUEUE_LIMIT = 10_000
BATCH_LIMIT = 1_000


class CloudError(Exception):
    """The cloud could not be reached, or answered something else than success."""


@dataclass(frozen=True, slots=True)
class Enrollment:
    token: str
    policy: dict[str, Any]


class CloudClient:
    """`name`, when the config gave one, is what the certificate must say; `address` is
    where it was resolved to (control-plane DNS). Without a name, the address is checked."""

    def __init__(self, address: IPv4Address, source: IPv4Address, trust: TrustFolder,
                 identity: Identity, timeout_s: float = 3.0, name: str | None = None) -> None:
        self.address, self.source, self.trust = address, source, trust
        self.identity, self.timeout_s = identity, timeout_s
        self.name = name or str(address)

    def enroll(self) -> Enrollment:
        answer = self._post("/v1/enroll", {"connector": self.identity.name,
                                           "group": self.identity.ec_group,
                                           "location": self.identity.location})
        token, policy = answer.get("token"), answer.get("policy")
        if not isinstance(token, str) or not isinstance(policy, dict):
            raise CloudError("enrollment answer without token or policy")
        return Enrollment(token, policy)

    def upload(self, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        return self._post(path, {"connector": self.identity.name, **body}, token)

    def _post(self, path: str, body: dict[str, Any], token: str | None = None
              ) -> dict[str, Any]:
        context = self.trust.context()
        if context is None:
            raise CloudError("no trusted cloud certificate yet")
        conn = _ResolvedHttps(self.name, self.address, context=context, timeout=self.timeout_s,
                              source_address=(str(self.source), 0))
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request("POST", path, json.dumps(body).encode(), headers)
            response = conn.getresponse()
            data = response.read(1 << 20)
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            raise CloudError(f"{path}: {exc}") from exc
        finally:
            conn.close()
        if response.status != 200:
            raise CloudError(f"{path}: HTTP {response.status} {data[:200]!r}")
        try:
            answer = json.loads(data)
        except ValueError as exc:
            raise CloudError(f"{path}: answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise CloudError(f"{path}: answer is not a JSON object")
        return answer


class _ResolvedHttps(http.client.HTTPSConnection):
    """HTTPS to an address resolved beforehand, the certificate checked for the name
    (http.client would ask the host's resolver, which the connector never uses)."""

    def __init__(self, name: str, address: IPv4Address, **options: Any) -> None:
        super().__init__(name, CLOUD_PORT, **options)
        self.resolved = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self.resolved), self.port), self.timeout,
                                        self.source_address)  # type: ignore[attr-defined]
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


async def enroll_until(client: CloudClient, wait_s: float, events: EventLog
                       ) -> Enrollment | None:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + wait_s
    while True:
        try:
            enrollment = await loop.run_in_executor(None, client.enroll)
        except CloudError as exc:
            if time.monotonic() >= deadline:
                events.emit("cloud.enroll_failed", cloud=client.name, error=str(exc))
                return None
            await asyncio.sleep(0.5)
            continue
        events.emit("cloud.enrolled", cloud=client.name, address=str(client.address),
                    sections=sorted(enrollment.policy))
        return enrollment


class CloudUploader:
    """Queues session records as they are logged; uploads them and the licence count."""

    def __init__(self, client: CloudClient, enrollment: Enrollment, interval_s: float,
                 workloads: Callable[[float], int], counters: Counters) -> None:
        self.client, self.enrollment, self.interval_s = client, enrollment, interval_s
        self.workloads, self.counters = workloads, counters
        self.queue: deque[dict[str, Any]] = deque(maxlen=QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self.window_start = time.monotonic()  # where the next licence count begins

    def tap(self, record: dict[str, Any]) -> None:
        if record.get("kind") in UPLOADED_KINDS:
            if len(self.queue) == QUEUE_LIMIT:
                self.counters.add("cloud_records_dropped")
            self.queue.append(record)

    def licence_count(self, now: float) -> dict[str, Any]:
        """The count for the window from the end of the last accepted one up to `now`."""
        return {"workloads": self.workloads(self.window_start),
                "window_s": round(now - self.window_start, 3)}

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval_s)
            batch = [self.queue.popleft() for _ in range(min(len(self.queue), BATCH_LIMIT))]
            now = time.monotonic()
            calls: list[tuple[str, dict[str, Any]]] = [("/v1/licences", self.licence_count(now))]
            if batch:
                calls.insert(0, ("/v1/logs", {"records": batch}))
            for path, body in calls:
                try:
                    await loop.run_in_executor(None, self.client.upload, path, body,
                                               self.enrollment.token)
                    self.counters.add("cloud_uploads")
                    if path == "/v1/licences":
                        self.window_start = now
                except CloudError:
                    self.counters.add("cloud_upload_errors")
                    if path == "/v1/logs":
                        self.queue.extendleft(reversed(batch))
