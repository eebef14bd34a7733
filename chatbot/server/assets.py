"""Files the server sends as they are: web/ (the widget, its demo pages) and the article pages.

Each is read (or rendered) and gzip-compressed once, when the app starts, and kept in memory
with a strong ETag. A request that accepts gzip gets the compressed bytes; a request whose
If-None-Match names the current ETag gets 304 and no body. Nothing here reads the disk per
request, so a changed file is served after a restart.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import Response, request

# What compresses: text. Images and fonts are compressed already.
COMPRESSIBLE = (".js", ".css", ".html", ".json", ".svg", ".txt", ".md")
# The widget and its styles: a cache may keep them 5 minutes, then must ask again (a 304 is
# cheap), so a fixed widget reaches every clinic page within minutes of a deploy.
SCRIPT_CACHE = "public, max-age=300, must-revalidate"
# Pages: always revalidated.
PAGE_CACHE = "no-cache"
GZIP_MIN_BYTES = 256  # below this gzip's header outweighs what it saves


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # None when it does not pay to compress
    etag: str  # the identity body's tag, without quotes; the gzip body's ends in "-gz"
    mimetype: str
    cache_control: str

    @classmethod
    def build(cls, body: bytes, name: str, cache_control: str | None = None) -> "Asset":
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if mimetype.startswith("text/") or mimetype == "application/javascript":
            mimetype += "; charset=utf-8"
        packed = None
        if name.endswith(COMPRESSIBLE) and len(body) >= GZIP_MIN_BYTES:
            packed = gzip.compress(body, compresslevel=9, mtime=0)
        if cache_control is None:
            cache_control = PAGE_CACHE if name.endswith(".html") or "." not in name else SCRIPT_CACHE
        return cls(body, packed, hashlib.sha256(body).hexdigest()[:32], mimetype, cache_control)

    def response(self) -> Response:
        """This asset for the current request: gzip if accepted, 304 if the client has it."""
        use_gzip = self.gzipped is not None and _accepts_gzip()
        etag = self.etag + "-gz" if use_gzip else self.etag
        headers = {"Cache-Control": self.cache_control, "ETag": f'"{etag}"'}
        if self.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if _client_has(self.etag):
            return Response(status=304, headers=headers)
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        return Response(self.gzipped if use_gzip else self.body, content_type=self.mimetype,
                        headers=headers)


def _accepts_gzip() -> bool:
    """Accept-Encoding names gzip (or *) with a quality above zero."""
    named = {value.lower(): quality for value, quality in request.accept_encodings}
    return named.get("gzip", named.get("x-gzip", named.get("*", 0))) > 0


def _client_has(etag: str) -> bool:
    """If-None-Match names this content (in either encoding: the same bytes once decoded)."""
    tags = request.if_none_match
    return tags.star_tag or etag in {t.removesuffix("-gz") for t in tags.as_set(include_weak=True)}


def load_dir(folder: Path) -> dict[str, Asset]:
    """Every file at the top of `folder` (no dotfiles, no subfolders), by name."""
    return {path.name: Asset.build(path.read_bytes(), path.name)
            for path in sorted(folder.iterdir())
            if path.is_file() and not path.name.startswith(".")}
