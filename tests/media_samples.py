"""Real media files made in the tests: Pillow writes the images, the videos are
minimal ISO-BMFF structures (ftyp + moov/mvhd + trak/tkhd/mdia/hdlr + mdat)
built byte by byte, so no external binary or downloaded sample is needed.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TypedDict, Unpack

IDENTITY = (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
ROTATE_90 = (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 1:
        times = struct.pack(">BxxxQQIQ", 1, 0, 0, timescale, duration)
    else:
        times = struct.pack(">BxxxIIII", 0, 0, 0, timescale, duration)
    rest = struct.pack(">IH10x9iI", 0x10000, 0x100, *IDENTITY, 0) + b"\0" * 20 + b"\0\0\0\2"
    return box(b"mvhd", times + rest)


def tkhd(width: int, height: int, matrix: tuple[int, ...] = IDENTITY, version: int = 0) -> bytes:
    if version == 1:
        head = struct.pack(">BxxxQQIIQ", 1, 0, 0, 1, 0, 0)
    else:
        head = struct.pack(">BxxxIIIII", 0, 0, 0, 1, 0, 0)
    body = struct.pack(">8xhhhxx9iII", 0, 0, 0, *matrix, width << 16, height << 16)
    return box(b"tkhd", head + body)


def hdlr(handler: bytes) -> bytes:
    return box(b"hdlr", b"\0\0\0\0" + b"\0\0\0\0" + handler + b"\0" * 12 + b"video\0")


def trak(width: int, height: int, handler: bytes = b"vide", **kw: object) -> bytes:
    return box(
        b"trak",
        tkhd(width, height, **kw)  # type: ignore[arg-type]
        + box(b"mdia", hdlr(handler) + box(b"minf", b"")),
    )


def video_header(
    *,
    width: int = 1280,
    height: int = 720,
    seconds: float = 12.5,
    brand: bytes = b"isom",
    timescale: int = 600,
    version: int = 0,
    rotated: bool = False,
    audio_track: bool = True,
) -> bytes:
    """ftyp + moov of a video; an mdat box must follow."""
    ftyp = box(b"ftyp", brand + struct.pack(">I", 0x200) + brand + b"mp41")
    tracks = b""
    if audio_track:
        tracks += trak(0, 0, handler=b"soun")
    tracks += trak(width, height, matrix=ROTATE_90 if rotated else IDENTITY, version=version)
    moov = box(b"moov", mvhd(timescale, round(seconds * timescale), version) + tracks)
    return ftyp + moov


class VideoShape(TypedDict, total=False):
    """What `video_header` takes: the shape of a made-up video."""

    width: int
    height: int
    seconds: float
    brand: bytes
    timescale: int
    version: int
    rotated: bool
    audio_track: bool


def video_bytes(payload: bytes = b"\x00\x01" * 2048, **kw: Unpack[VideoShape]) -> bytes:
    return video_header(**kw) + box(b"mdat", payload)


def mp4(path: Path, payload: bytes = b"\x00\x01" * 2048, **kw: Unpack[VideoShape]) -> Path:
    path.write_bytes(video_bytes(payload, **kw))
    return path


def mov(path: Path, **kw: Unpack[VideoShape]) -> Path:
    kw["brand"] = b"qt  "
    path.write_bytes(video_bytes(**kw))
    return path


def image(path: Path, fmt: str, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    """A small noisy image (so every file of a test is different bytes)."""
    import random

    from PIL import Image

    rng = random.Random(seed)
    picture = Image.new("RGB", size, (seed % 256, 80, 160))
    pixels = picture.load()
    assert pixels is not None
    for x in range(0, size[0], 2):
        for y in range(0, size[1], 2):
            pixels[x, y] = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    picture.save(path, fmt)
    return path


def animated_gif(path: Path, frames: int = 3, size: tuple[int, int] = (40, 30)) -> Path:
    from PIL import Image

    pictures = [Image.new("RGB", size, (40 * i, 200 - 40 * i, 90)) for i in range(frames)]
    pictures[0].save(path, "GIF", save_all=True, append_images=pictures[1:], duration=80, loop=0)
    return path
