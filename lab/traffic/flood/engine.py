"""A profile's frames, ready for the ring: each stream expanded, the streams interleaved."""

from __future__ import annotations

from typing import Any

from lab.traffic.flood.fields import expand
from lab.traffic.flood.profiles import PROFILES, Stream, Targets

RING_FRAMES = 4096  # distinct frames per run: the ring's size, reused round after round


def frames_for(profile: str, targets: Targets | None = None,
               ring_frames: int = RING_FRAMES) -> list[bytes]:
    """`ring_frames` frames of `profile`, streams mixed by their shares."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    return interleave(PROFILES[profile](targets or Targets()), ring_frames)


def interleave(streams: list[Stream], total: int) -> list[bytes]:
    weights = sum(s.share for s in streams)
    expanded = [expand(s.template, s.program, max(1, total * s.share // weights))
                for s in streams]
    mixed: list[bytes] = []
    index = 0
    while len(mixed) < total:
        for stream, frames in zip(streams, expanded, strict=True):
            mixed += [frames[(index + k) % len(frames)] for k in range(stream.share)]
        index += 1
    return mixed[:total]


def describe(profile: str, targets: Targets | None = None) -> dict[str, Any]:
    """The profile's streams as data: what the TRex profile is built from."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    return {"profile": profile, "streams": [
        {"template_hex": s.template.hex(), "share": s.share,
         "fields": [{"name": f.name, "offset": f.offset, "size": f.size, "start": f.start,
                     "last": f.last, "step": f.step} for f in s.program.fields]}
        for s in PROFILES[profile](targets or Targets())]}
