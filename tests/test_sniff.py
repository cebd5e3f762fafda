"""Sniffing: the real type, dimensions, frames and duration come from the bytes."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest

from autopostr.errors import ExitCode, InvalidInput
from autopostr.sniff import sniff_file, sniff_path
from tests import media_samples as ms


@pytest.mark.parametrize(
    ("fmt", "name", "mime"),
    [
        ("JPEG", "photo.jpg", "image/jpeg"),
        ("PNG", "logo.png", "image/png"),
        ("GIF", "still.gif", "image/gif"),
        ("WEBP", "pic.webp", "image/webp"),
    ],
)
def test_images_with_their_dimensions(tmp_path: Path, fmt: str, name: str, mime: str) -> None:
    found = sniff_path(ms.image(tmp_path / name, fmt, size=(120, 90)))
    assert (found.mime_type, found.width, found.height) == (mime, 120, 90)
    assert found.frames == 1 and not found.animated and found.duration is None
    assert found.kind == "image"


def test_an_animated_gif_reports_its_frames(tmp_path: Path) -> None:
    found = sniff_path(ms.animated_gif(tmp_path / "loop.gif", frames=4, size=(40, 30)))
    assert found.mime_type == "image/gif"
    assert (found.width, found.height, found.frames, found.animated) == (40, 30, 4, True)


def test_a_png_named_jpg_is_a_png(tmp_path: Path) -> None:
    png = ms.image(tmp_path / "real.png", "PNG")
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(png.read_bytes())
    assert sniff_path(fake).mime_type == "image/png"


def test_mp4_dimensions_and_duration_from_the_header(tmp_path: Path) -> None:
    found = sniff_path(ms.mp4(tmp_path / "clip.mp4", width=1920, height=1080, seconds=42.5))
    assert (found.mime_type, found.width, found.height, found.duration) == (
        "video/mp4",
        1920,
        1080,
        42.5,
    )
    assert found.kind == "video" and found.frames is None


def test_mov_is_quicktime_by_its_brand_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(ms.video_bytes(brand=b"qt  ", width=1080, height=1920, seconds=3))
    found = sniff_path(path)
    assert (found.mime_type, found.width, found.height, found.duration) == (
        "video/quicktime",
        1080,
        1920,
        3.0,
    )


def test_version_1_boxes_and_a_rotated_track(tmp_path: Path) -> None:
    # A phone's portrait video: stored 1280x720 with a 90° matrix, shown 720x1280.
    found = sniff_path(
        ms.mp4(tmp_path / "v.mp4", version=1, rotated=True, seconds=200, timescale=90000)
    )
    assert (found.width, found.height, found.duration) == (720, 1280, 200.0)


def test_64_bit_box_sizes_are_understood(tmp_path: Path) -> None:
    header = ms.video_header(seconds=5)
    payload = b"\0" * 1000
    large_mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + len(payload)) + payload
    path = tmp_path / "big.mp4"
    path.write_bytes(header + large_mdat)
    assert sniff_path(path).duration == 5.0


def test_the_video_track_is_found_among_others(tmp_path: Path) -> None:
    found = sniff_path(ms.mp4(tmp_path / "a.mp4", width=640, height=360, audio_track=True))
    assert (found.width, found.height) == (640, 360)


def test_only_headers_are_read_not_the_media_data(tmp_path: Path) -> None:
    """A 64 MiB mdat is skipped with a seek: the reads add up to a few hundred bytes."""
    path = tmp_path / "long.mp4"
    header = ms.video_header(seconds=600)
    with path.open("wb") as out:
        out.write(header)
        out.write(struct.pack(">I4s", 8 + 64 * 2**20, b"mdat"))
        out.truncate(len(header) + 8 + 64 * 2**20)

    class Counting(io.FileIO):
        read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            Counting.read_bytes += len(data)
            return data

    with Counting(path, "rb") as handle:
        found = sniff_file(handle, os.path.getsize(path), str(path))
    assert found.duration == 600.0
    assert Counting.read_bytes < 4096


def _refusal(path: Path) -> str:
    with pytest.raises(InvalidInput) as caught:
        sniff_path(path)
    assert caught.value.exit_code == ExitCode.INVALID
    assert str(path) in caught.value.message
    return caught.value.message


def test_text_named_mp4_is_refused_as_text(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_text("definitely not a video\n")
    assert "it is text" in _refusal(path)


def test_unsupported_image_types_are_named(tmp_path: Path) -> None:
    message = _refusal(ms.image(tmp_path / "scan.bmp", "BMP"))
    assert "image/bmp is not a supported type" in message


def test_heic_and_audio_in_an_iso_container_are_refused(tmp_path: Path) -> None:
    heic = tmp_path / "photo.mp4"
    heic.write_bytes(ms.box(b"ftyp", b"heic\0\0\0\0") + ms.box(b"mdat", b"x" * 64))
    assert "image/heic is not a supported type" in _refusal(heic)
    audio = tmp_path / "song.mp4"
    audio.write_bytes(ms.video_bytes(brand=b"M4A "))
    assert "audio/mp4" in _refusal(audio)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_truncated_images_are_refused(tmp_path: Path, fmt: str) -> None:
    whole = ms.image(tmp_path / "whole", fmt, size=(200, 150)).read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    message = _refusal(cut)
    assert "truncated or corrupt" in message


def test_a_truncated_animated_gif_is_refused(tmp_path: Path) -> None:
    whole = ms.animated_gif(tmp_path / "a.gif", frames=5).read_bytes()
    cut = tmp_path / "cut.gif"
    cut.write_bytes(whole[: len(whole) - 40])
    assert "truncated or corrupt" in _refusal(cut)


def test_truncated_videos_are_refused(tmp_path: Path) -> None:
    whole = ms.video_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[:-100])
    assert "MP4 is truncated or corrupt" in _refusal(cut)
    header_only = tmp_path / "header.mov"
    header_only.write_bytes(ms.video_header(brand=b"qt  ")[:-20])
    assert "MOV is truncated or corrupt" in _refusal(header_only)


def test_videos_without_moov_or_video_track_are_refused(tmp_path: Path) -> None:
    no_moov = tmp_path / "recording.mp4"
    no_moov.write_bytes(ms.box(b"ftyp", b"isom\0\0\0\0") + ms.box(b"mdat", b"x" * 128))
    assert "no moov box" in _refusal(no_moov)
    audio_only = tmp_path / "voice.mp4"
    ftyp = ms.box(b"ftyp", b"isom\0\0\0\0isom")
    moov = ms.box(b"moov", ms.mvhd(1000, 5000) + ms.trak(0, 0, handler=b"soun"))
    audio_only.write_bytes(ftyp + moov + ms.box(b"mdat", b"x"))
    assert "no video track" in _refusal(audio_only)
    no_mdat = tmp_path / "empty.mp4"
    no_mdat.write_bytes(ms.video_header())
    assert "no media data" in _refusal(no_mdat)


def test_impossible_box_sizes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(ms.video_header() + struct.pack(">I4s", 4, b"mdat") + b"zzzz")
    assert "impossible size" in _refusal(path)


def test_empty_missing_and_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert "empty" in _refusal(empty)
    assert "no such file" in _refusal(tmp_path / "missing.jpg")
    folder = tmp_path / "folder"
    folder.mkdir()
    assert "is a directory" in _refusal(folder)


def test_random_bytes_are_not_media(tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    path.write_bytes(bytes(range(256)) * 8)
    assert "not a supported image or video" in _refusal(path)
