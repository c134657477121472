"""The printable booth sheet of an event: one labelled QR code per product of the producers exhibiting there, on A4
pages, three codes a row. Each label gives the product, its producer, its stars, the booth or table when known, and
the short code to send where the link cannot carry it (Zalo)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.shape import CT_Inline
from docx.shared import Cm, Pt
from docx.text.run import Run
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.catalog import Producer, Product
from models.deeplinks import DeepLink, LinkBook, Target
from models.events import Event, EventRole, Registration
from models.meetings import booth_numbers
from models.people import User
from models.qr import qr_png

COLUMNS = 3
CODE_WIDTH = Cm(4.2)


@dataclass(frozen=True)
class BoothCode:
    """One label of the sheet."""

    product: str
    producer: str
    stars: int
    booth: str  # "" when the event has no booth or table numbers
    url: str  # what the code holds
    code: str  # the payload, to type on Zalo


@dataclass(frozen=True)
class SheetWords:
    """The sheet's words, in the office's language (handlers word them)."""

    title: str  # the event's name and dates
    subtitle: str  # venue, and how to scan
    booth: str  # "Booth {booth}" with a {booth} placeholder
    code: str  # "Zalo: send {code}" with a {code} placeholder


async def exhibitors(session: AsyncSession, event_id: int, extra: Sequence[int] = ()) -> list[Producer]:
    """The producers exhibiting at the event: those registered for it as producers, and ``extra`` (the office may
    add producers who are not on the bot), by name."""
    registered = (
        await session.exec(
            select(User.producer_id)
            .join(Registration, col(Registration.user_id) == User.id)
            .where(Registration.event_id == event_id, Registration.role == EventRole.PRODUCER.value,
                   col(User.producer_id).is_not(None))
        )
    ).all()
    ids = {int(i) for i in registered if i} | {int(i) for i in extra}
    if not ids:
        return []
    query = select(Producer).where(col(Producer.id).in_(ids)).order_by(col(Producer.name), col(Producer.id))
    return list((await session.exec(query)).all())


async def booth_codes(
    session: AsyncSession, event: Event, links: LinkBook, producers: Sequence[Producer],
    booths: Mapping[int, str] | None = None,
) -> list[BoothCode]:
    """A label for each listed product of ``producers``, its code naming the event and the producer's booth
    (``booths``: producer id -> label; by default the booths of the event's meeting grid, when it has them)."""
    assert event.id is not None
    booths = booths if booths is not None else await booth_numbers(session, event.id)
    codes = []
    for producer in producers:
        assert producer.id is not None
        products = (
            await session.exec(
                select(Product).where(Product.producer_id == producer.id, col(Product.hidden).is_(False))
                .order_by(col(Product.name_key), col(Product.id))
            )
        ).all()
        booth = booths.get(producer.id, "")
        for product in products:
            link = DeepLink(Target.PRODUCT, product.id or 0, event.id, booth)
            codes.append(BoothCode(product.name, producer.name, product.stars, booth.upper(), links.primary(link),
                                   links.payload(link)))
    return codes


def sheet_docx(words: SheetWords, codes: Sequence[BoothCode]) -> bytes:
    """The sheet: a title, then a table of labelled codes, A4 portrait with 1.5 cm margins."""
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    style = document.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(9)
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(words.title)
    run.bold, run.font.size = True, Pt(14)
    subtitle = document.add_paragraph(words.subtitle)
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    rows = (len(codes) + COLUMNS - 1) // COLUMNS
    table = document.add_table(rows=rows, cols=COLUMNS)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.style = "Table Grid"
    shape_id = document.part.next_id  # counted here: python-docx searches the whole document for each picture
    cells = [cell for row in table.rows for cell in row.cells]  # once: table.cell(r, c) walks the table each time
    for code, cell in zip(codes, cells, strict=False):
        picture = cell.paragraphs[0]
        picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
        shape_id += 1
        _add_picture(document, picture.add_run(), qr_png(code.url, scale=6), shape_id)
        for text, bold in _label(words, code):
            line = cell.add_paragraph()
            line.alignment = WD_ALIGN_PARAGRAPH.CENTER
            line.paragraph_format.space_after = Pt(0)
            line.add_run(text).bold = bold
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _add_picture(document: DocxDocument, run: Run, png: bytes, shape_id: int) -> None:
    """``run.add_picture`` with the drawing's id given (python-docx's own finds the next id by an XPath over the
    whole document: quadratic over a sheet of hundreds of codes)."""
    rel_id, image = document.part.get_or_add_image(io.BytesIO(png))
    width, height = image.scaled_dimensions(CODE_WIDTH, None)
    run._r.add_drawing(CT_Inline.new_pic_inline(shape_id, rel_id, image.filename, width, height))


def _label(words: SheetWords, code: BoothCode) -> list[tuple[str, bool]]:
    lines = [(code.product, True), (code.producer, False), ("★" * code.stars, False)]
    if code.booth:
        lines.append((words.booth.format(booth=code.booth), True))
    lines.append((words.code.format(code=code.code), False))
    return lines
