"""QR codes of our links, as PNG and SVG (segno: pure Python, no image library needed)."""

from __future__ import annotations

import io

import segno

ERROR_LEVEL = "m"  # 15 % of a code can be smudged or covered and it still reads (a printed booth card)


def qr_png(url: str, *, scale: int = 8, border: int = 4) -> bytes:
    """The code as a PNG: ``scale`` pixels a module, the quiet zone ``border`` modules wide."""
    buffer = io.BytesIO()
    segno.make(url, error=ERROR_LEVEL, micro=False).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()


def qr_svg(url: str, *, scale: int = 8, border: int = 4, title: str = "") -> bytes:
    """The code as an SVG (sharp at any print size); ``title`` names it for screen readers."""
    buffer = io.BytesIO()
    segno.make(url, error=ERROR_LEVEL, micro=False).save(
        buffer, kind="svg", scale=scale, border=border, title=title or None, xmldecl=True
    )
    return buffer.getvalue()
