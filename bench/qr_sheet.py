"""Booth sheet benchmark: the printable sheet of a fair the size of Hanoi's first (about 600 OCOP products).

    .venv/bin/python bench/qr_sheet.py              # 600 labels
    .venv/bin/python bench/qr_sheet.py --labels 100

Measured, in one run: signing the payloads, one QR code as PNG (segno) and as SVG, reading a PNG back (zxing-cpp),
the whole DOCX, and as the baseline the same sheet with text labels only (python-docx without pictures), so the
cost of the codes themselves shows.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.booth_sheet import BoothCode, SheetWords, sheet_docx
from models.deeplinks import DeepLink, LinkBook, LinkKey, Target
from models.qr import qr_png, qr_svg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=600)
    n = parser.parse_args().labels
    links = LinkBook(LinkKey("bench-secret-0123456789-abcdefghijklmnop"), telegram_username="ocop_hanoi_bot")
    words = SheetWords("Kết nối giao thương OCOP Hà Nội (27/11/2026–29/11/2026)", "Cung Văn hoá Hữu nghị",
                       "Gian hàng {booth}", "Zalo: gửi {code}")

    start = time.perf_counter()
    links_made = [DeepLink(Target.PRODUCT, 10_000 + i, 3, f"A{i % 120}") for i in range(n)]
    codes = [BoothCode(f"Sản phẩm OCOP số {i}", f"HTX số {i // 3}", 3 + i % 3, f"A{i % 120}", links.primary(link),
                       links.payload(link)) for i, link in enumerate(links_made)]
    signed = time.perf_counter() - start

    sample = codes[:50]
    start = time.perf_counter()
    pngs = [qr_png(code.url, scale=6) for code in sample]
    png_ms = (time.perf_counter() - start) / len(sample) * 1000
    start = time.perf_counter()
    for code in sample:
        qr_svg(code.url)
    svg_ms = (time.perf_counter() - start) / len(sample) * 1000
    try:
        import zxingcpp
        from PIL import Image

        start = time.perf_counter()
        assert all(zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))[0].text == code.url
                   for png, code in zip(pngs, sample, strict=True))
        read_ms = f"{(time.perf_counter() - start) / len(sample) * 1000:.1f} ms"
    except ImportError:
        read_ms = "(zxing-cpp not installed)"

    start = time.perf_counter()
    text_only = sheet_docx(words, [])  # the page itself
    from docx import Document

    document = Document(io.BytesIO(text_only))
    table = document.add_table(rows=(n + 2) // 3, cols=3)
    for code, cell in zip(codes, [c for row in table.rows for c in row.cells], strict=False):
        cell.paragraphs[0].add_run(code.product)
        for line in (code.producer, "★" * code.stars, code.booth, code.code):
            cell.add_paragraph(line)
    document.save(io.BytesIO())
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    sheet = sheet_docx(words, codes)
    whole = time.perf_counter() - start

    print(f"labels: {n}")
    print(f"payloads signed: {signed * 1000:.1f} ms in all")
    print(f"QR code: PNG {png_ms:.1f} ms, SVG {svg_ms:.1f} ms each; read back {read_ms} each")
    print(f"sheet DOCX: {whole:.1f} s, {len(sheet) / 1e6:.2f} MB ({whole / n * 1000:.1f} ms a label)")
    print(f"baseline, text labels only: {baseline:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
