"""`python -m lab.images [--rebuild-base]`: build the docker lab's images if needed."""

from __future__ import annotations

import argparse
import sys
import time

from lab.errors import LabError
from lab.images.build import ensure_images


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.images", description=__doc__)
    parser.add_argument("--rebuild-base", action="store_true",
                        help="debootstrap the base image again")
    args = parser.parse_args()
    started = time.monotonic()
    try:
        image = ensure_images(rebuild_base=args.rebuild_base)
    except LabError as exc:
        print(f"lab.images: {exc}", file=sys.stderr)
        return 1
    print(f"lab.images: {image} ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
