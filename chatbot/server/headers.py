"""Response headers: what browsers may do with each response.

Pages get a Content-Security-Policy that lets only this server's own scripts
run and lets them open the chat websocket; the widget script and its assets may
be loaded by any clinic's page (it is the embed code); the chat API answers
cross-origin calls only from origins that passed the origin check.
"""
from __future__ import annotations

from flask import Response, g, request

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # the widget's <style> fallback where adoptedStyleSheets is missing
    "img-src 'self' data:",
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])

EMBEDDABLE = (".js", ".css", ".svg", ".png", ".woff2")


def secure(response: Response) -> Response:
    """Adds the headers every response needs, and the ones its kind of content needs."""
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Content-Security-Policy", CSP)
    if request.path == "/api/ask":
        h["Cache-Control"] = "no-store"  # answers to health questions stay out of caches
        origin = g.get("cors_origin")
        if origin:  # set by the origin check only for origins it allowed
            h["Access-Control-Allow-Origin"] = origin
            h["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            h["Access-Control-Allow-Headers"] = "Content-Type"
            h["Access-Control-Max-Age"] = "600"
        h.add("Vary", "Origin")
    elif request.path.endswith(EMBEDDABLE):
        h["Access-Control-Allow-Origin"] = "*"
        h["Cross-Origin-Resource-Policy"] = "cross-origin"
    else:
        h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    return response
