"""A local feed server: serves one RSS 2.0 or Atom document with an ETag and a
Last-Modified, answers 304 to a matching conditional GET, and can be made to fail."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape


@dataclass
class Item:
    guid: str | None
    title: str
    link: str
    published: str = "Mon, 30 Nov 2026 09:00:00 GMT"


def rss(items: list[Item], title: str = "Acme blog") -> str:
    """RSS 2.0, newest first as feeds list them."""
    entries = "".join(
        "<item>"
        + (f"<guid isPermaLink='false'>{escape(i.guid)}</guid>" if i.guid else "")
        + f"<title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<pubDate>{i.published}</pubDate><description>&lt;p&gt;About {escape(i.title)}&lt;/p&gt;</description>"
        "</item>"
        for i in items
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
        f"<title>{escape(title)}</title><link>https://acme.example/</link>"
        f"<description>news</description>{entries}</channel></rss>"
    )


def atom(items: list[Item], title: str = "Acme notes") -> str:
    entries = "".join(
        f"<entry><id>{escape(i.guid or i.link)}</id><title>{escape(i.title)}</title>"
        f"<link href='{escape(i.link)}'/><updated>2026-11-30T09:00:00Z</updated>"
        f"<author><name>Ada</name></author><summary>About {escape(i.title)}</summary></entry>"
        for i in items
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>{escape(title)}</title><id>urn:acme</id><updated>2026-11-30T09:00:00Z</updated>"
        f"{entries}</feed>"
    )


@dataclass
class FeedServer:
    body: str = ""
    content_type: str = "application/rss+xml"
    status: int = 200  # anything but 200: every answer is this error
    requests: list[dict[str, str]] = field(default_factory=list)
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))
    port: int = 0

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body.encode()).hexdigest()[:16] + '"'

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/feed.xml"

    def publish(self, body: str) -> None:
        """A new version of the document, with a new ETag and Last-Modified."""
        self.body = body
        self.last_modified = formatdate(usegmt=True)


@contextmanager
def serving(feed: FeedServer) -> Iterator[FeedServer]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_GET(self) -> None:
            feed.requests.append({k.lower(): v for k, v in self.headers.items()})
            if feed.status != 200:
                self.send_response(feed.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == feed.etag:
                self.send_response(304)
                self.send_header("ETag", feed.etag)
                self.end_headers()
                return
            data = feed.body.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", feed.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", feed.last_modified)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    feed.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield feed
    finally:
        server.shutdown()
        server.server_close()
