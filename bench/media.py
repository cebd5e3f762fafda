"""Media upload throughput (MB/s) and peak RSS of the real CLI, on each storage backend.

Run: .venv/bin/python bench/media.py [--mb 200] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
         [--backends local,database]

A file of --mb megabytes shaped like an MP4 (a valid ftyp/moov header and one
large mdat of random bytes) is uploaded with `autopostr media upload` in a
child process, once per backend: `local` on SQLite, `database` on PostgreSQL
(a temporary database, created and dropped here). The child's peak RSS comes
from os.wait4's rusage (ru_maxrss) of that process alone; `autopostr media
list` on the same home gives the baseline a CLI costs before any media (its
time is subtracted for "store MB/s", its RSS shown beside the upload's). A
second child then streams the stored bytes back through the publisher's
MediaItem.open reader and hashes them (read MB/s and its RSS). Target: peak
RSS under 100 MB, whatever the file size.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
READ_BACK = """
import hashlib, sys
from autopostr.config import load_settings
from autopostr.db import open_database
from autopostr.media import opener
from autopostr.models import Media
settings = load_settings()
db = open_database(settings)
with db.session() as session:
    item = session.get(Media, int(sys.argv[1]))
    open_stream = opener(settings, db.engine, item)
digest = hashlib.sha256()
with open_stream() as stream:
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
print(digest.hexdigest())
"""


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4_header(seconds: int = 600) -> bytes:
    """ftyp + moov (mvhd, one video trak with tkhd and hdlr) of a 1920x1080 video."""
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isommp41")
    identity = (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = box(
        b"mvhd",
        struct.pack(">BxxxIIII", 0, 0, 0, 1000, seconds * 1000)
        + struct.pack(">IH10x9iI", 0x10000, 0x100, *identity, 0)
        + b"\0" * 20
        + struct.pack(">I", 2),
    )
    tkhd = box(
        b"tkhd",
        struct.pack(">BxxxIIIII", 0, 0, 0, 1, 0, 0)
        + struct.pack(">8xhhhxx9iII", 0, 0, 0, *identity, 1920 << 16, 1080 << 16),
    )
    hdlr = box(b"hdlr", b"\0" * 8 + b"vide" + b"\0" * 12 + b"video\0")
    trak = box(b"trak", tkhd + box(b"mdia", hdlr))
    return ftyp + box(b"moov", mvhd + trak)


def write_video(path: Path, size_mb: int) -> str:
    """Streams the file out 1 MiB at a time; returns its sha256."""
    header = mp4_header()
    payload = size_mb * 1000 * 1000 - len(header) - 8
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for piece in (header, struct.pack(">I4s", 8 + payload, b"mdat")):
            out.write(piece)
            digest.update(piece)
        left = payload
        while left:
            chunk = os.urandom(min(MiB, left))
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


@dataclass
class Measured:
    seconds: float
    max_rss_mb: float
    stdout: str


def measure(argv: list[str], env: dict[str, str]) -> Measured:
    """Run a child, return its wall time and its own peak RSS."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    out = child.stdout.read().decode()
    err = child.stderr.read().decode()
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}):\n{err}")
    return Measured(seconds, usage.ru_maxrss / 1024, out)  # ru_maxrss is in KiB on Linux


def autopostr_bin() -> str:
    script = Path(sys.executable).with_name("autopostr")
    return str(script) if script.exists() else (shutil.which("autopostr") or "autopostr")


def run_backend(
    name: str, database_url: str, home: Path, video: Path, sha256: str, size_mb: int
) -> dict[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUTOPOSTR_")},
        "AUTOPOSTR_HOME": str(home),
        "AUTOPOSTR_CONFIG": str(home / "config.toml"),
        "AUTOPOSTR_DATABASE_URL": database_url,
        "AUTOPOSTR_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        "AUTOPOSTR_KEYRING": "off",
        "AUTOPOSTR_MEDIA_STORAGE": name,
        "NO_COLOR": "1",
    }
    cli = autopostr_bin()
    subprocess.run([cli, "init"], env=env, check=True, capture_output=True)
    baseline = measure([cli, "media", "list", "--json"], env)
    upload = measure([cli, "media", "upload", str(video), "--json"], env)
    import json

    (item,) = json.loads(upload.stdout)
    assert item["sha256"] == sha256 and item["storage"] == name, item
    read = measure([sys.executable, "-c", READ_BACK, str(item["id"])], env)
    assert read.stdout.strip() == sha256, "read back different bytes"
    return {
        "backend": f"{name} ({'PostgreSQL' if database_url.startswith('postgres') else 'SQLite'})",
        "upload s": f"{upload.seconds:.2f}",
        "upload MB/s": f"{size_mb / upload.seconds:.0f}",
        # The same minus what a CLI costs before any media (start-up, imports, sign-in).
        "store MB/s": f"{size_mb / max(upload.seconds - baseline.seconds, 1e-3):.0f}",
        "upload RSS MB": f"{upload.max_rss_mb:.0f}",
        "CLI baseline RSS MB": f"{baseline.max_rss_mb:.0f}",
        "read-back MB/s": f"{size_mb / read.seconds:.0f}",
        "read-back RSS MB": f"{read.max_rss_mb:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=200, help="file size in MB (10^6 bytes)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--backends", default="local,database")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="autopostr-bench-media-") as tmp:
        video = Path(tmp) / "big.mp4"
        sha256 = write_video(video, args.mb)
        print(f"{args.mb} MB MP4-shaped file, sha256 {sha256[:16]}…", file=sys.stderr)
        if "local" in backends:
            home = Path(tmp) / "local-home"
            rows.append(
                run_backend(
                    "local", f"sqlite:///{home / 'autopostr.db'}", home, video, sha256, args.mb
                )
            )
        if "database" in backends:
            import psycopg

            name = f"autopostr_bench_media_{secrets.token_hex(4)}"
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = f"{args.pg.rpartition('/')[0]}/{name}"
                rows.append(
                    run_backend("database", url, Path(tmp) / "pg-home", video, sha256, args.mb)
                )
            finally:
                with psycopg.connect(args.pg, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    headers = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in headers]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(row[h].ljust(w) for h, w in zip(headers, widths, strict=True)))
    worst = max(float(r["upload RSS MB"]) for r in rows)
    print(f"peak upload RSS {worst:.0f} MB (target < 100 MB): {'ok' if worst < 100 else 'OVER'}")


if __name__ == "__main__":
    main()
