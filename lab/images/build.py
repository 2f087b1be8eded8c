"""Build the lab's images without a container registry.

    cclab/base:bookworm   debootstrap (Debian's packages) + the node tools, `docker import`ed
    cclab/lab:latest      lab/images/Dockerfile on top: wheels from PyPI, then the project
    cclab/connector:latest  lab/images/connector.Dockerfile: the connector alone, its
                          entrypoint `python -m connector run` (built on request)

The lab image carries a label with a digest of the project's code and wheels;
`ensure_images` rebuilds only when that digest changed, so a warm `up` builds
nothing. Run as `python -m lab.images [--rebuild-base]`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

from lab.errors import BackendError
from lab.file_lock import exclusive

BASE_IMAGE = "cclab/base:bookworm"
LAB_IMAGE = "cclab/lab:latest"
CONNECTOR_IMAGE = "cclab/connector:latest"
SOURCE_LABEL = "org.cclab.source"
NODE_PACKAGES = ("python3", "python3-venv", "iproute2", "nftables", "tcpdump", "openssh-server",
                 "dnsperf", "unbound", "nmap", "hping3", "curl", "dnsutils", "iputils-ping",
                 "procps", "openssl")
MIRROR = os.environ.get("CCLAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "build" / "wheels"
BUILD_LOCK = Path("/run/cclab/.images.lock")

Say = Callable[[str], None]


def _say(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def _building() -> AbstractContextManager[None]:
    """One build at a time on this machine: labs that start at once (xdist workers, two
    users) would otherwise build the same image side by side, and each remove the
    other's result as the stale one. The second waits, then finds the image current."""
    return exclusive(BUILD_LOCK)


def ensure_images(say: Say = _say, *, rebuild_base: bool = False) -> str:
    """Build what is missing or stale; returns the lab image's name."""
    with _building():
        return _ensure_images(say, rebuild_base=rebuild_base)


def _ensure_images(say: Say, *, rebuild_base: bool) -> str:
    if rebuild_base or not image_exists(BASE_IMAGE):
        build_base(say)
    download_wheels(say)
    digest = source_digest()
    if image_label(LAB_IMAGE, SOURCE_LABEL) != digest:
        build_lab(digest, say)
    return LAB_IMAGE


def ensure_connector_image(say: Say = _say) -> str:
    """The connector's own image, built when missing or stale; returns its name."""
    with _building():
        return _ensure_connector_image(say)


def _ensure_connector_image(say: Say) -> str:
    if not image_exists(BASE_IMAGE):
        build_base(say)
    download_wheels(say)
    digest = _digest([ROOT / "lab/images/connector.Dockerfile", *_tree("connector"),
                      *_tree("yamlissues"), *_tree("tcbpf")])
    if image_label(CONNECTOR_IMAGE, SOURCE_LABEL) != digest:
        say(f"building {CONNECTOR_IMAGE} (connector {digest})")
        _build_image(CONNECTOR_IMAGE, "lab/images/connector.Dockerfile", digest)
    return CONNECTOR_IMAGE


def image_exists(name: str) -> bool:
    return _inspect(name, "{{.Id}}") is not None


def image_label(name: str, label: str) -> str | None:
    return _inspect(name, f'{{{{index .Config.Labels "{label}"}}}}')


def _inspect(name: str, template: str) -> str | None:
    """One field of a local image, or None when there is no such image (or field)."""
    done = _docker(["image", "inspect", "-f", template, name], check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


def build_base(say: Say) -> None:
    if shutil.which("debootstrap") is None:
        raise BackendError("debootstrap not found\n    hint: apt-get install debootstrap",
                           backend="docker")
    say(f"building {BASE_IMAGE} with debootstrap from {MIRROR} (about a minute)")
    rootfs = Path(tempfile.mkdtemp(prefix="cclab-rootfs-", dir="/var/tmp"))
    try:
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(NODE_PACKAGES)}",
              "bookworm", str(rootfs), MIRROR], "debootstrap")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        _docker(["import", "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", "-", BASE_IMAGE],
                stdin=tar.stdout)
        tar.wait()
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def runtime_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def download_wheels(say: Say) -> None:
    """The runtime dependencies as wheels in build/wheels. Once they are there for the
    project's requirements (WHEELS_STAMP says which, and which wheels that gave), a warm
    `up` asks PyPI nothing: pip took 4 s a lab even with its cache warm."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    requirements = runtime_requirements()
    stamp = WHEELS / WHEELS_STAMP
    recorded = stamp.read_text() if stamp.exists() else ""
    if wheels_current(recorded, requirements, _wheel_names()):
        return
    if not any(WHEELS.glob("*.whl")):
        say("downloading the runtime dependencies as wheels (PyPI)")
    _run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--dest",
          str(WHEELS), *requirements], "pip download")
    stamp.write_text(wheels_stamp(requirements, _wheel_names()))


WHEELS_STAMP = ".requirements"


def wheels_stamp(requirements: list[str], wheels: list[str]) -> str:
    """What a download gave: the requirements asked for, then the wheels there. Pure."""
    return "\n".join([*requirements, "--", *sorted(wheels)]) + "\n"


def wheels_current(recorded: str, requirements: list[str], wheels: list[str]) -> bool:
    """The stamp is of these requirements and every wheel it lists is still there. Pure."""
    asked, sep, given = recorded.partition("--\n")
    if not sep or asked.splitlines() != requirements:
        return False
    listed = given.splitlines()
    return bool(listed) and set(listed) <= set(wheels)


def _wheel_names() -> list[str]:
    return sorted(p.name for p in WHEELS.glob("*.whl"))


def source_digest() -> str:
    """A digest of everything the lab image is built from."""
    return _digest([ROOT / "lab/images/Dockerfile", *_tree("lab"), *_tree("connector"),
                    *_tree("yamlissues"), *_tree("tcbpf")])


def _tree(top: str) -> list[Path]:
    return sorted(p for p in (ROOT / top).rglob("*") if p.is_file()
                  and "__pycache__" not in p.parts)


def _digest(files: list[Path]) -> str:
    """Of the files' paths and bytes, the wheels' names and the base's package list."""
    h = hashlib.sha256()
    for path in [*files, *sorted(WHEELS.glob("*.whl"))]:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes() if path.suffix != ".whl" else path.name.encode())
    h.update(" ".join(NODE_PACKAGES).encode())
    return h.hexdigest()[:16]


def build_lab(digest: str, say: Say) -> None:
    say(f"building {LAB_IMAGE} (project {digest})")
    _build_image(LAB_IMAGE, "lab/images/Dockerfile", digest)


def _build_image(name: str, dockerfile: str, digest: str) -> None:
    previous = _inspect(name, "{{.Id}}")
    _docker(["build", "-q", "--network", "none", "-f", dockerfile, "--build-arg",
             f"NODE_PACKAGES={' '.join(NODE_PACKAGES)}", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
             "--label", f"{SOURCE_LABEL}={digest}", "-t", name, "."], cwd=ROOT)
    if previous and previous != _inspect(name, "{{.Id}}"):
        # The build before this one, now untagged; a running lab still using it keeps it.
        _docker(["rmi", previous], check=False)



def _docker(argv: list[str], *, check: bool = True, stdin: IO[Any] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker") is None:
        raise BackendError("docker not found\n    hint: apt-get install docker.io",
                           backend="docker")
    done = subprocess.run(["docker", *argv], capture_output=True, text=True, stdin=stdin,
                          cwd=cwd, check=False)
    if check and done.returncode != 0:
        raise BackendError(f"docker {argv[0]} failed: {done.stderr.strip()[-2000:]}",
                           backend="docker")
    return done


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise BackendError(f"{what} failed ({done.returncode}): {tail}", backend="docker")
