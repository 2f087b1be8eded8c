"""The connector's own image: `python -m connector run` as the entrypoint, docker alone.

No lab and no node agent: two internal docker networks (service, management),
the image started with a config file mounted and the sysctls a router needs, and
throw-away clients on each network. Everything is asserted from outside the
container: the DNS answer a client gets, the probe's status, the reason and the
counters on the management side, and a clean stop (exit 0, `service.stopped`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import allure
import docker
import pytest
from docker.types import IPAMConfig, IPAMPool

from lab.images.build import ensure_connector_image

pytestmark = pytest.mark.docker

LABEL = {"org.cclab.test": "connector-image"}
# Named so that docker attaches them in this order: eth0 service, eth1 management.
NETWORKS = {"cclab-imgtest-a-svc": "10.231.1.0/24", "cclab-imgtest-b-mgmt": "10.231.2.0/24"}
SERVICE, MANAGEMENT = "10.231.1.31", "10.231.2.21"
POOL = IPv4Network("10.254.0.0/19")
SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.send_redirects": "0",
           "net.ipv4.conf.default.send_redirects": "0", "net.ipv6.conf.all.disable_ipv6": "1"}
CONFIG = f"""\
connector: {{name: cc-img, group: ccg-1, location: img}}
interfaces:
  service: {{name: eth0, address: {SERVICE}/24}}
  management: {{name: eth1, address: {MANAGEMENT}/24}}
runtime:
  management_sshd: false
  global_vips: [203.0.113.88]
  probe_sources: [10.231.1.0/24]  # the clients' network plays the load balancer
locations: [img]
source_ip_groups:
  clients: [10.231.1.0/24]
app_segments:
  apps: {{domains: ["*.corp.example"], servers: [192.0.2.10]}}
ip_pools:
  default: {POOL}
"""


@dataclass
class Running:
    engine: docker.DockerClient
    image: str
    container: Any
    folder: Path
    clients: dict[str, Any] = field(default_factory=dict)  # network -> a client container

    def events(self, kind: str) -> list[dict[str, Any]]:
        path = self.folder / "events.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [e for e in map(json.loads, lines) if e["kind"] == kind]

    def client(self, network: str, *argv: str) -> str:
        """Run `argv` in a client container (the same image, kept) on `network`."""
        if network not in self.clients:
            self.clients[network] = self.engine.containers.run(
                self.image, ["300"], entrypoint=["sleep"], network=network, labels=LABEL,
                detach=True)
        code, out = self.clients[network].exec_run(list(argv))
        assert code == 0, f"{' '.join(argv)} on {network}: exit {code}: {out!r}"
        return bytes(out).decode()


@pytest.fixture(scope="module")
def connector(docker_capable: None, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Running]:
    engine = docker.from_env()
    image = ensure_connector_image(say=lambda _text: None)
    folder = tmp_path_factory.mktemp("connector-image")
    (folder / "connector.yaml").write_text(CONFIG)
    networks: list[Any] = []
    container = None
    running: Running | None = None
    try:
        for name, subnet in NETWORKS.items():
            networks.append(engine.networks.create(name, internal=True, labels=LABEL,
                                                   ipam=IPAMConfig(pool_configs=[
                                                       IPAMPool(subnet=subnet)])))
        svc, mgmt = networks
        container = engine.containers.create(
            image, ["--config", "/etc/connector/connector.yaml", "--events",
                    "/etc/connector/events.jsonl", "--state", "/etc/connector/state"],
            name="cclab-imgtest-cc", cap_add=["NET_ADMIN"], devices=["/dev/net/tun"],
            sysctls=SYSCTLS, labels=LABEL, network=svc.name,
            networking_config={svc.name: engine.api.create_endpoint_config(
                ipv4_address=SERVICE)},
            volumes={str(folder): {"bind": "/etc/connector", "mode": "rw"}})
        mgmt.connect(container, ipv4_address=MANAGEMENT)
        container.start()
        running = Running(engine, image, container, folder)
        _wait_ready(running)
        yield running
    finally:
        for thing in ([*running.clients.values()] if running else []) + [container]:
            with contextlib.suppress(docker.errors.NotFound):
                if thing is not None:
                    thing.remove(force=True)
        for network in networks:
            network.remove()


def _wait_ready(running: Running, timeout_s: float = 30.0, after: int = 0) -> None:
    """Until the connector has written its `service.ready` number `after + 1`."""
    deadline = time.monotonic() + timeout_s
    while len(running.events("service.ready")) <= after:
        running.container.reload()
        if running.container.status == "exited" or time.monotonic() > deadline:
            logs = running.container.logs().decode()[-2000:]
            raise AssertionError(f"the connector container never got ready:\n{logs}")
        time.sleep(0.2)


@allure.feature("connector image")
def test_the_entrypoint_runs_the_connector_on_the_configured_interfaces(
        connector: Running) -> None:
    ready = connector.events("service.ready")[-1]
    assert ready["service_address"] == SERVICE
    assert ready["management_address"] == MANAGEMENT
    config = connector.container.attrs["Config"]
    assert config["Entrypoint"] == ["python", "-m", "connector", "run"]


@allure.feature("connector image")
def test_a_client_on_the_service_network_gets_a_synthetic_answer(connector: Running) -> None:
    answer = connector.client("cclab-imgtest-a-svc", "dig", "+short", "+time=2", "+tries=2",
                              f"@{SERVICE}", "app.corp.example").split()
    assert len(answer) == 1
    assert IPv4Address(answer[0]) in POOL


@allure.feature("connector image")
def test_probe_and_management_endpoints_answer_on_their_own_networks(
        connector: Running) -> None:
    """No ZIA gateway is reachable for the default rule: the probe says 503 and only
    the management side says why; the DNS answer above shows in the counters."""
    status = connector.client("cclab-imgtest-a-svc", "curl", "-s", "-o", "/dev/null", "-w",
                              "%{http_code}", "-m", "3",
                              f"http://{SERVICE}:50000/?cchealth")
    assert status == "503"
    health = json.loads(connector.client("cclab-imgtest-b-mgmt", "curl", "-s", "-m", "3",
                                         f"http://{MANAGEMENT}:9100/health"))
    assert health["healthy"] is False
    assert health["reasons"] == ["ZIA gateway 'default': no tunnel alive and fail-close"]
    before = _synthetic_answers(connector)
    connector.client("cclab-imgtest-a-svc", "dig", "+short", "+time=2", "+tries=2",
                     f"@{SERVICE}", "counted.corp.example")
    assert _synthetic_answers(connector) == before + 1


def _synthetic_answers(connector: Running) -> int:
    metrics = connector.client("cclab-imgtest-b-mgmt", "curl", "-s", "-m", "3",
                               f"http://{MANAGEMENT}:9100/metrics")
    found = [line for line in metrics.splitlines()
             if line.startswith("cclab_connector_dns_answer_synthetic_total ")]
    return int(found[0].split()[1]) if found else 0


@allure.feature("connector image")
def test_docker_stop_ends_the_service_cleanly(connector: Running) -> None:
    """Stopped, it writes `service.stopped` and exits 0; started again afterwards, so
    the module's container is left as this test found it (tests run in any order)."""
    stopped = len(connector.events("service.stopped"))
    connector.container.stop(timeout=10)
    connector.container.reload()
    try:
        assert connector.container.attrs["State"]["ExitCode"] == 0
        assert len(connector.events("service.stopped")) == stopped + 1
    finally:
        ready = len(connector.events("service.ready"))
        connector.container.start()
        _wait_ready(connector, after=ready)
