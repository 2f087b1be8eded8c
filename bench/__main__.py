"""`make bench`: every benchmark, figures written to reports/bench/*.json.

Each benchmark measures its own reference in the same run (a naive scan, the
kernel, tcpreplay) so the ratios mean something on a shared, noisy machine.
Pick some with `python -m bench core lab`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

BENCHES = {"core": "bench.bench_core", "lab": "bench.bench_lab",
           "connector": "bench.bench_connector", "batching": "bench.bench_batching",
           "dataplane": "bench.bench_dataplane",
           "docker": "bench.bench_docker",
           "flood": "bench.bench_flood", "failover": "bench.bench_failover",
           "attack": "bench.bench_attack", "scenarios": "bench.bench_scenarios",
           "lab-flood": "bench.bench_lab_flood"}


def main(names: list[str]) -> int:
    for name in names or list(BENCHES):
        module = BENCHES.get(name)
        if module is None:
            print(f"bench: unknown benchmark '{name}'; known: {', '.join(BENCHES)}",
                  file=sys.stderr)
            return 2
        if importlib.util.find_spec(module) is None:
            print(f"bench: {name}: not built yet, skipped", file=sys.stderr)
            continue
        print(f"bench: {name}", file=sys.stderr)
        importlib.import_module(module).main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
