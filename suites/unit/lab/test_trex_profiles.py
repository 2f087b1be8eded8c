"""Every flood profile as a TRex STL profile: it compiles, and it sends what the native
engine sends. The TRex client runs in its own virtualenv (it brings its own scapy);
without a TRex server, what is compared is its serialised profile, played through
`trex_check.simulate`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.traffic.flood.engine import describe, interleave
from lab.traffic.flood.fields import expand
from lab.traffic.flood.profiles import PROFILES, Targets
from lab.traffic.flood.trex_check import simulate

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
TREX_PYTHON = ROOT / ".venv-trex" / "bin" / "python"
PACKETS = 600  # past the wrap of the 25- and 23-letter fields


@pytest.fixture(scope="module")
def trex_python() -> Path:
    if not TREX_PYTHON.exists():
        pytest.skip("needs the TRex client's virtualenv (.venv-trex): `make setup` makes it")
    return TREX_PYTHON


def _trex_json(python: Path, profile: str) -> list[dict]:
    done = subprocess.run([str(python), str(ROOT / "lab/traffic/flood/trex_profile.py")],
                          input=json.dumps(describe(profile)), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_trex_profile_sends_what_the_native_engine_sends(trex_python: Path,
                                                          profile: str) -> None:
    streams = PROFILES[profile](Targets())
    trex = _trex_json(trex_python, profile)
    assert len(trex) == len(streams)
    for native, serialised in zip(streams, trex, strict=True):
        assert serialised["mode"]["type"] == "continuous"
        assert simulate(serialised, PACKETS) == expand(native.template, native.program, PACKETS)


def test_the_simulation_is_not_trivially_equal(trex_python: Path) -> None:
    """A changed field offset must show: the comparison above can fail."""
    trex = _trex_json(trex_python, "syn-flood")
    write = next(i for i in trex[0]["vm"]["instructions"] if i["type"] == "write_flow_var")
    write["pkt_offset"] += 1
    native = PROFILES["syn-flood"](Targets())[0]
    assert simulate(trex[0], 10) != expand(native.template, native.program, 10)
    assert interleave(PROFILES["syn-flood"](Targets()), 4)  # the native mix still builds
    assert sys.executable != str(trex_python)  # two interpreters: two scapys
