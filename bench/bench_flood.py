"""The flood engine against tcpreplay --topspeed: the same frames, the same veth, one core.

Two namespaces joined by a veth pair; the receiving end is up and has no
address, so the kernel drops what arrives (the sender's cost is what is
measured). For each profile the engine writes its frames to a pcap; then, alternating,
the engine (sendmmsg, its default sender), the engine's PACKET_MMAP TX ring
sender, and tcpreplay (--topspeed, pcap preloaded, looped to the same count)
send them on the same interface, each pinned to the same CPU. Frames are counted
from the veth's own tx counter;
time is each sender's own send loop (neither's start-up). Median of RUNS.
Writes reports/bench/flood.json. Targets (issue #7): at least 1.0x tcpreplay,
and at least 500,000 packets per second on one core.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from reports.figures import bound

RUNS = int(os.environ.get("CCLAB_BENCH_RUNS", "3"))
COUNT = int(os.environ.get("CCLAB_FLOOD_COUNT", "2000000"))
PROFILES = ("dns-flood", "syn-flood")
CPU = os.environ.get("CCLAB_FLOOD_CPU", "1")
OUT = Path("reports/bench/flood.json")
RING = 4096


def _run(*argv: str, timeout: float = 120) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


class VethPair:
    def __init__(self) -> None:
        tag = os.getpid()
        self.tx, self.rx = f"ccbf-tx-{tag}", f"ccbf-rx-{tag}"

    def __enter__(self) -> VethPair:
        _run("ip", "netns", "add", self.tx)
        _run("ip", "netns", "add", self.rx)
        _run("ip", "link", "add", "veth-tx", "netns", self.tx, "type", "veth",
             "peer", "name", "veth-rx", "netns", self.rx)
        for ns, dev in ((self.tx, "veth-tx"), (self.rx, "veth-rx")):
            _run("ip", "-n", ns, "link", "set", dev, "up")
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in (self.tx, self.rx):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    def tx_packets(self) -> int:
        return int(_run("ip", "netns", "exec", self.tx, "cat",
                        "/sys/class/net/veth-tx/statistics/tx_packets"))


def native(pair: VethPair, profile: str, sender: str = "mmsg") -> dict[str, float]:
    before = pair.tx_packets()
    out = _run("ip", "netns", "exec", pair.tx, "taskset", "-c", CPU, sys.executable, "-m",
               "lab.traffic.flood", profile, "--iface", "veth-tx", "--count", str(COUNT),
               "--duration", "60", "--sender", sender)
    report = json.loads(out.strip().splitlines()[-1])
    frames = pair.tx_packets() - before
    return {"frames": frames, "seconds": report["seconds"], "pps": frames / report["seconds"]}


def tcpreplay(pair: VethPair, pcap: Path) -> dict[str, float]:
    before = pair.tx_packets()
    out = _run("ip", "netns", "exec", pair.tx, "taskset", "-c", CPU, "tcpreplay", "--topspeed",
               "-K", f"--loop={COUNT // RING}", "-i", "veth-tx", str(pcap))
    found = re.search(r"Actual: (\d+) packets .* in ([\d.]+) seconds", out)
    if found is None:
        raise RuntimeError(f"tcpreplay said: {out}")
    frames = pair.tx_packets() - before
    seconds = float(found.group(2))
    return {"frames": frames, "seconds": seconds, "pps": frames / seconds}


def measure(pair: VethPair, profile: str, folder: Path) -> dict[str, object]:
    pcap = folder / f"{profile}.pcap"
    _run(sys.executable, "-m", "lab.traffic.flood", profile, "--pcap", str(pcap))
    engine, ring, reference = [], [], []
    for _ in range(RUNS):
        engine.append(native(pair, profile))
        ring.append(native(pair, profile, "ring"))
        reference.append(tcpreplay(pair, pcap))
    engine_pps = statistics.median(r["pps"] for r in engine)
    ring_pps = statistics.median(r["pps"] for r in ring)
    reference_pps = statistics.median(r["pps"] for r in reference)
    return {"profile": profile, "frame_bytes": len(_first_frame(pcap)),
            "frames_per_run": COUNT, "runs": RUNS,
            "engine_pps": round(engine_pps), "tcpreplay_pps": round(reference_pps),
            "tx_ring_pps": round(ring_pps), "tx_ring_ratio": round(ring_pps / reference_pps, 2),
            "ratio": round(engine_pps / reference_pps, 2),
            "engine_runs_pps": [round(r["pps"]) for r in engine],
            "tcpreplay_runs_pps": [round(r["pps"]) for r in reference],
            "meets_1x_tcpreplay": engine_pps >= bound("flood:engine", "x") * reference_pps,
            "meets_500k_pps": engine_pps >= bound("flood:engine", "pps")}


def _first_frame(pcap: Path) -> bytes:
    from scapy.utils import RawPcapReader

    for data, _meta in RawPcapReader(str(pcap)):
        return data
    return b""


def main() -> None:
    results = []
    with VethPair() as pair, tempfile.TemporaryDirectory() as folder:
        for profile in PROFILES:
            result = measure(pair, profile, Path(folder))
            results.append(result)
            print(f"  {profile}: engine {result['engine_pps']:,} pps, tcpreplay "
                  f"{result['tcpreplay_pps']:,} pps, ratio {result['ratio']}", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"benchmark": "flood engine vs tcpreplay --topspeed, one veth, "
                               f"one CPU ({CPU})", "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
