"""`python -m lab.images [--rebuild-base] [--connector]`: build the docker lab's images
if needed; `--connector` builds the connector's own image instead."""

from __future__ import annotations

import argparse
import sys
import time

from lab.errors import LabError
from lab.images.build import ensure_connector_image, ensure_images


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.images", description=__doc__)
    parser.add_argument("--rebuild-base", action="store_true",
                        help="debootstrap the base image again")
    parser.add_argument("--connector", action="store_true",
                        help="build cclab/connector (entrypoint: python -m connector run)")
    args = parser.parse_args()
    started = time.monotonic()
    try:
        if args.rebuild_base and args.connector:
            ensure_images(rebuild_base=True)
        image = ensure_connector_image() if args.connector else ensure_images(
            rebuild_base=args.rebuild_base)
    except LabError as exc:
        print(f"lab.images: {exc}", file=sys.stderr)
        return 1
    print(f"lab.images: {image} ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
