"""`cclab traffic run PROFILE --engine trex --server HOST`: the profile on a TRex server.

The profile's description goes to `trex_profile.py` in the TRex client's own
virtualenv (`.venv-trex`, made by `make setup`), which builds the STL profile
and runs it on the server's port 0 for `duration` seconds.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lab.errors import LabError
from lab.traffic.flood.engine import describe
from lab.traffic.flood.in_lab import TARGET_OF
from lab.traffic.flood.profiles import Targets

ROOT = Path(__file__).resolve().parents[3]
TREX_PYTHON = ROOT / ".venv-trex" / "bin" / "python"
SCRIPT = Path(__file__).with_name("trex_profile.py")


def run_on_trex(profile: str, to: str | None, server: str | None, duration: float,
                pps: float) -> str:
    if not server:
        raise LabError("--engine trex needs --server HOST (a TRex server)")
    if not TREX_PYTHON.exists():
        raise LabError("the TRex client is not installed\n    hint: make setup (.venv-trex)")
    if profile not in TARGET_OF:
        raise LabError(f"unknown profile '{profile}'\n    hint: one of {', '.join(TARGET_OF)}")
    targets = Targets(**{TARGET_OF[profile]: to}) if to else Targets()
    done = subprocess.run([str(TREX_PYTHON), str(SCRIPT), "--server", server, "--duration",
                           str(duration), "--pps", str(pps)],
                          input=json.dumps(describe(profile, targets)), capture_output=True,
                          text=True, timeout=duration + 120, check=False)
    if done.returncode != 0:
        raise LabError(f"TRex run failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()
