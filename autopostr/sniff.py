"""What a media file really is, from its bytes: type, dimensions, duration, frames.

The name of a file says nothing: a PNG called `photo.jpg` is a PNG, and a text
file called `clip.mp4` is refused. Images go through Pillow, restricted to the
formats platforms take, and are decoded (or checksummed) end to end so a
truncated or corrupt file is refused at upload, not at publish time. MP4 and
QuickTime files are ISO base media files: their boxes are walked with seeks,
reading only headers and the few small boxes that hold the duration and the
video track's size, so a 500 MB video costs a few kilobytes of reads.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autopostr.errors import InvalidInput

SUPPORTED = "JPEG, PNG, GIF, WebP, MP4 or MOV"
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
# ftyp brands of files that are ISO-BMFF but not a video a platform takes.
OTHER_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"3g2a": "video/3gpp2",
}
# QuickTime files from before ftyp existed start straight with one of these.
LEGACY_QT_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
CONTAINERS = {b"moov", b"trak", b"mdia"}
MAX_BOXES = 100_000  # a file with more top-level boxes than this is not a video we want


@dataclass(frozen=True)
class Sniffed:
    mime_type: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds, videos only
    frames: int | None = None  # images: 1 for a still, more when animated

    @property
    def kind(self) -> str:
        return self.mime_type.split("/", 1)[0]

    @property
    def animated(self) -> bool:
        return (self.frames or 1) > 1


def sniff_path(path: str | Path, field: str = "") -> Sniffed:
    """Sniff a file on disk; every refusal is an InvalidInput naming the path."""
    where = f"{field + ' ' if field else ''}{path}"
    with open_regular(path, field) as handle:
        return sniff_file(handle, os.fstat(handle.fileno()).st_size, where)


def open_regular(path: str | Path, field: str = "") -> IO[bytes]:
    """Open a non-empty regular file for reading, or say clearly why not."""
    where = f"{field + ' ' if field else ''}{path}"
    try:
        handle = open(path, "rb")  # the caller closes it
    except FileNotFoundError:
        raise InvalidInput(f"{where}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{where}: is a directory; give the files inside it") from None
    except PermissionError:
        raise InvalidInput(f"{where}: permission denied") from None
    except OSError as exc:
        raise InvalidInput(f"{where}: cannot read it ({exc.strerror})") from None
    info = os.fstat(handle.fileno())
    if stat.S_ISDIR(info.st_mode):
        handle.close()
        raise InvalidInput(f"{where}: is a directory; give the files inside it")
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise InvalidInput(f"{where}: not a regular file (a pipe or device cannot be uploaded)")
    if info.st_size == 0:
        handle.close()
        raise InvalidInput(f"{where}: the file is empty")
    return handle


def sniff_file(handle: IO[bytes], size: int, where: str = "file") -> Sniffed:
    """Sniff a seekable binary file of `size` bytes; leaves the position undefined."""
    if size <= 0:
        raise InvalidInput(f"{where}: the file is empty")
    handle.seek(0)
    head = handle.read(64)
    if len(head) >= 8 and (
        head[4:8] == b"ftyp" or (head[4:8] in LEGACY_QT_BOXES and _plausible_box(head, size))
    ):
        return _sniff_isobmff(handle, size, where, head[8:12] if head[4:8] == b"ftyp" else b"")
    return _sniff_image(handle, where, head)


def _plausible_box(head: bytes, size: int) -> bool:
    declared = struct.unpack(">I", head[:4])[0]
    return declared in (0, 1) or 8 <= declared <= size


# -- images -------------------------------------------------------------------


def _sniff_image(handle: IO[bytes], where: str, head: bytes) -> Sniffed:
    import warnings

    from PIL import Image, UnidentifiedImageError

    handle.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(handle, formats=list(IMAGE_FORMATS))
            with image:
                return _check_image(image, where)
    except InvalidInput:
        raise
    except UnidentifiedImageError:
        raise InvalidInput(f"{where}: {_describe_unknown(handle, head)}; use {SUPPORTED}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(
            f"{where}: the image has too many pixels to be published anywhere; scale it down"
        ) from None
    except Exception as exc:  # Pillow's decoders raise many kinds on damaged data
        fmt = _image_format_name(head)
        raise InvalidInput(
            f"{where}: the {fmt} is truncated or corrupt ({_reason(exc)}); export it again"
        ) from None


def _check_image(image: object, where: str) -> Sniffed:
    from PIL import ImageFile

    assert isinstance(image, ImageFile.ImageFile)
    fmt = image.format or ""
    mime = IMAGE_FORMATS[fmt]
    width, height = image.size
    frames = int(getattr(image, "n_frames", 1) or 1)
    if width <= 0 or height <= 0:
        raise InvalidInput(f"{where}: the image has no pixels")
    if fmt == "PNG" and frames == 1:
        # verify() checks every chunk's CRC without decoding the pixels.
        image.verify()
    elif fmt == "JPEG":
        # Decoding at 1/8 scale still reads every byte of the entropy-coded data.
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()
    else:
        for index in range(frames):
            image.seek(index)
            image.load()
    return Sniffed(mime, width, height, None, frames)


def _image_format_name(head: bytes) -> str:
    if head.startswith(b"\xff\xd8"):
        return "JPEG"
    if head.startswith(b"\x89PNG"):
        return "PNG"
    if head.startswith(b"GIF8"):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    return "image"


def _describe_unknown(handle: IO[bytes], head: bytes) -> str:
    """Name what the file seems to be, so the refusal teaches something."""
    from PIL import Image

    handle.seek(0)
    try:
        with Image.open(handle) as other:
            mime = Image.MIME.get(other.format or "", f"{other.format} image")
            return f"{mime} is not a supported type"
    except Exception:
        pass
    if _image_format_name(head) != "image":
        return f"the {_image_format_name(head)} is truncated or corrupt"
    if head.startswith(b"%PDF"):
        return "a PDF is not an image or a video"
    if _looks_like_text(head):
        return "it is text, not an image or a video"
    return "not a supported image or video"


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sample is still text.
        try:
            head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(b >= 0x20 or b in b"\t\r\n\f" for b in head)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- MP4 / QuickTime ------------------------------------------------------------


class _Corrupt(Exception):
    pass


@dataclass
class _Track:
    width: float = 0.0
    height: float = 0.0
    handler: bytes = b""
    rotated: bool = False


class _Reader:
    """Reads box headers at given offsets; never more than a small box at a time."""

    def __init__(self, handle: IO[bytes], size: int):
        self.handle = handle
        self.size = size

    def read_at(self, offset: int, length: int) -> bytes:
        self.handle.seek(offset)
        data = self.handle.read(length)
        if len(data) != length:
            raise _Corrupt(f"the file ends inside a box at byte {offset}")
        return data

    def boxes(self, start: int, end: int) -> list[tuple[bytes, int, int]]:
        """(type, payload offset, box end) of each box in [start, end)."""
        found: list[tuple[bytes, int, int]] = []
        offset = start
        while offset < end:
            if end - offset < 8:
                raise _Corrupt(f"{end - offset} stray bytes at byte {offset}")
            size, kind = struct.unpack(">I4s", self.read_at(offset, 8))
            header = 8
            if size == 1:
                (size,) = struct.unpack(">Q", self.read_at(offset + 8, 8))
                header = 16
            elif size == 0:
                size = end - offset  # "to the end of the file"
            if size < header:
                raise _Corrupt(f"box {_name(kind)} at byte {offset} has an impossible size")
            if offset + size > end:
                raise _Corrupt(
                    f"box {_name(kind)} at byte {offset} claims {size} bytes, "
                    f"{end - offset} are left (the file is truncated)"
                )
            found.append((kind, offset + header, offset + size))
            if len(found) > MAX_BOXES:
                raise _Corrupt("too many boxes")
            offset += size
        return found


def _name(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))


def _sniff_isobmff(handle: IO[bytes], size: int, where: str, brand: bytes) -> Sniffed:
    """`brand`: the ftyp's major brand (b"" for a legacy QuickTime file without one)."""
    if brand in OTHER_BRANDS:
        raise InvalidInput(
            f"{where}: {OTHER_BRANDS[brand]} is not a supported type; use {SUPPORTED}"
        )
    mime = "video/quicktime" if brand in (b"qt  ", b"") else "video/mp4"
    label = "MOV" if mime == "video/quicktime" else "MP4"
    try:
        reader = _Reader(handle, size)
        top = reader.boxes(0, size)
        if top[0][0] == b"ftyp" and top[0][2] - top[0][1] < 8:
            raise _Corrupt("the ftyp box is too short")
        moov = [box for box in top if box[0] == b"moov"]
        if not moov:
            raise _Corrupt("it has no moov box (an unfinished recording?)")
        if not any(box[0] in (b"mdat", b"moof") for box in top):
            raise _Corrupt("it has no media data (mdat)")
        return _parse_moov(reader, moov[0][1], moov[0][2], mime)
    except _Corrupt as exc:
        raise InvalidInput(f"{where}: the {label} is truncated or corrupt: {exc}") from None


def _parse_moov(reader: _Reader, start: int, end: int, mime: str) -> Sniffed:
    timescale = 0
    duration_units = 0
    tracks: list[_Track] = []
    for kind, payload, box_end in reader.boxes(start, end):
        if kind == b"mvhd":
            timescale, duration_units = _mvhd(reader, payload, box_end)
        elif kind == b"trak":
            tracks.append(_trak(reader, payload, box_end))
    if not timescale:
        raise _Corrupt("the movie header (mvhd) is missing or has no timescale")
    video = [t for t in tracks if t.handler == b"vide"] or [
        t for t in tracks if not t.handler and t.width and t.height
    ]
    if not video:
        raise _Corrupt("it has no video track")
    track = video[0]
    width, height = round(track.width), round(track.height)
    if track.rotated:
        width, height = height, width
    duration = duration_units / timescale if duration_units not in (0, 0xFFFFFFFF) else None
    return Sniffed(
        mime,
        width or None,
        height or None,
        round(duration, 3) if duration is not None else None,
    )


def _mvhd(reader: _Reader, payload: int, end: int) -> tuple[int, int]:
    version = reader.read_at(payload, 1)[0]
    if payload + (32 if version == 1 else 20) > end:
        raise _Corrupt("the movie header (mvhd) is cut short")
    if version == 1:
        timescale, duration = struct.unpack(">IQ", reader.read_at(payload + 20, 12))
    else:
        timescale, duration = struct.unpack(">II", reader.read_at(payload + 12, 8))
    return int(timescale), int(duration)


def _trak(reader: _Reader, start: int, end: int) -> _Track:
    track = _Track()
    for kind, payload, box_end in reader.boxes(start, end):
        if kind == b"tkhd":
            version = reader.read_at(payload, 1)[0]
            # version 0: 4+4+4+4+4 (times, id, reserved, duration); version 1: 8+8+4+4+8
            matrix_at = payload + 4 + (32 if version == 1 else 20) + 8 + 8
            if matrix_at + 36 + 8 > box_end:
                raise _Corrupt("a track header (tkhd) is cut short")
            matrix = struct.unpack(">9i", reader.read_at(matrix_at, 36))
            raw_w, raw_h = struct.unpack(">II", reader.read_at(matrix_at + 36, 8))
            track.width, track.height = raw_w / 65536, raw_h / 65536
            # a=0, d=0, b and c = +-1 (16.16): the picture is turned by 90 or 270 degrees.
            track.rotated = matrix[0] == 0 and matrix[4] == 0 and matrix[1] != 0
        elif kind == b"mdia":
            for sub, sub_payload, sub_end in reader.boxes(payload, box_end):
                if sub == b"hdlr" and sub_end - sub_payload >= 12:
                    track.handler = reader.read_at(sub_payload + 8, 4)
    return track
