"""Printable "Biên bản ghi nhớ hợp tác tiêu thụ sản phẩm OCOP" as a .docx file.

The output depends only on the input: core properties and zip entry timestamps come from `drafted_on`.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Length, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from models.ocop import certificate_expiry

FONT = "Times New Roman"
FONT_SIZE = Pt(13)
TABLE_FONT_SIZE = Pt(11)
PAGE_WIDTH, PAGE_HEIGHT = Cm(21), Cm(29.7)
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = Cm(3), Cm(2), Cm(2), Cm(2)
TEXT_WIDTH = Emu(PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

BLANK = "…" * 20  # a dotted line to fill in by hand
CELL_BLANK = "……"

TITLE = "BIÊN BẢN GHI NHỚ HỢP TÁC TIÊU THỤ SẢN PHẨM OCOP"
FOOTER_NOTE = "Biên bản được lập qua hệ thống kết nối giao thương OCOP (ocop-bot)."
PRODUCT_COLUMNS: tuple[tuple[str, float], ...] = (  # header, width in cm; widths add up to TEXT_WIDTH
    ("STT", 1.0),
    ("Tên sản phẩm", 2.9),
    ("Hạng OCOP", 2.2),
    ("Giấy chứng nhận", 3.3),
    ("Quy cách/ĐVT", 2.0),
    ("Sản lượng dự kiến", 2.1),
    ("Thời vụ/Thời gian giao hàng", 2.5),
)
LEGAL_BASES = (
    "Căn cứ Bộ luật Dân sự số 91/2015/QH13 ngày 24 tháng 11 năm 2015;",
    "Căn cứ Quyết định số 148/QĐ-TTg ngày 24 tháng 02 năm 2023 của Thủ tướng Chính phủ ban hành Bộ tiêu chí, "
    "quy trình đánh giá, phân hạng sản phẩm Chương trình Mỗi xã một sản phẩm;",
    "Căn cứ nhu cầu và khả năng của hai bên.",
)
NEGOTIATION_ITEMS = (
    "Giá bán và chính sách chiết khấu",
    "Phương thức và thời hạn thanh toán",
    "Phương thức giao nhận, vận chuyển",
    "Chương trình khuyến mại, trưng bày",
    "Tiêu chuẩn chất lượng, nhãn mác, mã vạch, truy xuất nguồn gốc",
    "Các nội dung khác",
)
COMMITMENTS = (
    "Biên bản ghi nhớ này ghi nhận ý định hợp tác tiêu thụ sản phẩm OCOP của hai bên và là cơ sở để hai bên "
    "tiếp tục đàm phán, ký kết hợp đồng mua bán hàng hóa.",
    "Biên bản ghi nhớ này không phải là hợp đồng mua bán hàng hóa và không làm phát sinh nghĩa vụ mua, bán "
    "đối với bất kỳ bên nào.",
    "Hai bên có trách nhiệm bảo mật các thông tin của nhau có được trong quá trình trao đổi, hợp tác, trừ "
    "trường hợp được bên kia đồng ý hoặc theo quy định của pháp luật.",
    "Biên bản ghi nhớ có hiệu lực kể từ ngày ký và trong thời hạn 12 (mười hai) tháng, trừ trường hợp được "
    "thay thế bằng hợp đồng mua bán hàng hóa do hai bên ký kết.",
    "Biên bản được lập thành 02 (hai) bản có giá trị như nhau, mỗi bên giữ 01 (một) bản.",
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Elements that follow w:pBdr in w:pPr and w:shd in w:tcPr (schema order).
_AFTER_PBDR = tuple(
    f"w:{tag}"
    for tag in (
        "shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN "
        "bidi adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc "
        "textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange"
    ).split()
)
_AFTER_TC_SHD = ("w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark")


@dataclass(frozen=True)
class MemoParty:
    name: str  # company (party A, the buyer) or producer/owner name (party B)
    representative: str  # the person who signs ("" → a blank line to fill in by hand)
    address: str  # "" → blank line
    phone: str  # "" → blank line
    email: str  # "" → blank line
    kind: str = ""  # e.g. "Siêu thị", "Hợp tác xã" ("" → omitted)
    position: str = ""  # the representative's position, e.g. "Giám đốc" ("" → blank line)
    tax_code: str = ""  # mã số thuế, 10 or 13 digits ("" → blank line)


@dataclass(frozen=True)
class MemoLine:
    product: str
    ocop: str  # e.g. "OCOP 4 sao (tiềm năng 5 sao)", already worded by the caller
    certificate: str  # e.g. "QĐ số 123/QĐ-UBND ngày 15/03/2023, hiệu lực đến 15/03/2026" or ""
    unit: str  # "hộp 200g" or ""
    volume: str  # expected volume, free text from the buyer, or "" → blank to negotiate
    season: str  # expected season / delivery time, or ""


@dataclass(frozen=True)
class MemoDocument:
    number: str  # e.g. "15/2026/BBGN-OCOP"
    signed_place: str  # e.g. "Hà Nội"
    drafted_on: date
    status: str  # "BẢN DỰ THẢO", "ĐÃ XÁC NHẬN" or "ĐÃ KÝ", shown at the top
    party_a: MemoParty  # Bên A — bên mua (buyer)
    party_b: MemoParty  # Bên B — bên bán (OCOP producer)
    lines: tuple[MemoLine, ...]
    buyer_message: str  # what the buyer wrote when asking for contact ("" → omitted)
    event: str = ""  # trade-connection event name ("" → omitted)
    notes: tuple[str, ...] = ()  # shown under the signatures, e.g. who confirmed for a party


def certificate_text(number: str, decided_on: date | None, on: date) -> str:
    """The product's certificate as the memo states it on its date ``on``: "QĐ số … ngày …, hiệu lực đến …", or a
    warning that it had expired by then; "" when the catalogue gives neither number nor date."""
    if not number and decided_on is None:
        return ""
    text = f"QĐ số {number}" if number else "QĐ"
    if decided_on is None:
        return text
    ends = certificate_expiry(decided_on)
    text += f" ngày {decided_on:%d/%m/%Y}, hiệu lực đến {ends:%d/%m/%Y}"
    return f"{text} — ĐÃ HẾT HIỆU LỰC tại ngày lập biên bản" if ends < on else text


def render_memo_docx(memo: MemoDocument) -> bytes:
    """The memo as a .docx file (bytes), in Vietnamese, ready to print and sign."""
    doc = Document()
    _set_up(doc, memo)
    _add_heading(doc, memo)
    _add_parties(doc, memo)
    _add_products(doc, memo)
    _add_negotiation(doc)
    _add_commitments(doc)
    _add_signatures(doc, memo)
    add_notes(doc, memo.notes)
    buffer = io.BytesIO()
    doc.save(buffer)
    return _repack(buffer.getvalue(), memo.drafted_on)


# --- text helpers -----------------------------------------------------------------------------------------------


def _text(value: str, *, multiline: bool = False) -> str:
    """NFC text without XML-invalid control characters; single-line unless `multiline`."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    if multiline:
        return "\n".join(" ".join(line.split()) for line in value.strip().split("\n"))
    return " ".join(value.split())


def _or_blank(value: str, blank: str = BLANK) -> str:
    return _text(value) or blank


def _date_words(day: date) -> str:
    return f"ngày {day:%d} tháng {day:%m} năm {day:%Y}"


# --- document set-up --------------------------------------------------------------------------------------------


def _set_fonts(rpr: Any) -> None:
    """Times New Roman for every script in the `w:rPr` element, replacing theme fonts."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)


def _set_up(doc: DocxDocument, memo: MemoDocument) -> None:
    styles = doc.styles.element
    rpr_default = styles.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
    _set_fonts(rpr_default)
    lang = rpr_default.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:val"), "vi-VN")

    normal = doc.styles["Normal"]
    _set_fonts(normal.element.get_or_add_rPr())
    normal.font.size = FONT_SIZE
    fmt = normal.paragraph_format
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(3)
    fmt.line_spacing = 1.05

    section = doc.sections[0]
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.left_margin, section.right_margin = MARGIN_LEFT, MARGIN_RIGHT
    section.top_margin, section.bottom_margin = MARGIN_TOP, MARGIN_BOTTOM
    section.footer_distance = Cm(1)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(footer, FOOTER_NOTE, italic=True, size=Pt(10))

    stamp = datetime(memo.drafted_on.year, memo.drafted_on.month, memo.drafted_on.day, tzinfo=UTC)
    props = doc.core_properties
    props.title = f"Biên bản ghi nhớ hợp tác tiêu thụ sản phẩm OCOP số {_text(memo.number)}"
    props.subject = f"Hợp tác tiêu thụ sản phẩm OCOP: {_text(memo.party_a.name)} – {_text(memo.party_b.name)}"
    props.author = props.last_modified_by = "ocop-bot"
    props.comments = FOOTER_NOTE
    props.keywords = "OCOP; biên bản ghi nhớ; kết nối giao thương"
    props.category = "Biên bản ghi nhớ"
    props.language = "vi-VN"
    props.revision = 1
    props.created = props.modified = stamp
    # The template's thumbnail shows a page that is not this memo.
    package = doc.part.package
    for rid, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del package.rels[rid]


def _repack(data: bytes, day: date) -> bytes:
    """The same zip with fixed entry timestamps, so equal input gives equal bytes."""
    stamp = (*max(day, date(1980, 1, 1)).timetuple()[:3], 0, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


# --- paragraph helpers ------------------------------------------------------------------------------------------


def _run(
    paragraph: Paragraph, text: str, *, bold: bool = False, italic: bool = False, size: Length | None = None
) -> None:
    run = paragraph.add_run(text)
    run.bold = bold or None
    run.italic = italic or None
    if size is not None:
        run.font.size = size


def _para(
    doc: DocxDocument | _Cell,
    text: str = "",
    *,
    bold: bool = False,
    italic: bool = False,
    size: Length | None = None,
    align: WD_ALIGN_PARAGRAPH | None = None,
    indent: Length | None = None,
    before: Length | None = None,
    after: Length | None = None,
    keep_with_next: bool = False,
) -> Paragraph:
    paragraph = doc.add_paragraph()
    if text:
        _run(paragraph, text, bold=bold, italic=italic, size=size)
    fmt = paragraph.paragraph_format
    if align is not None:
        paragraph.alignment = align
    if indent is not None:
        fmt.left_indent = indent
    if before is not None:
        fmt.space_before = before
    if after is not None:
        fmt.space_after = after
    if keep_with_next:
        fmt.keep_with_next = True
    return paragraph


def _labelled(doc: DocxDocument, label: str, value: str) -> Paragraph:
    paragraph = _para(doc, indent=Cm(0.75))
    _run(paragraph, f"{label}: ")
    _run(paragraph, value)
    return paragraph


def _border(paragraph: Paragraph, sides: tuple[str, ...], *, size: int = 6, space: int = 1) -> None:
    """Single-line paragraph borders on `sides` (size in eighths of a point)."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    for side in sides:
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:val"), "single")
        edge.set(qn("w:sz"), str(size))
        edge.set(qn("w:space"), str(space))
        edge.set(qn("w:color"), "000000")
        borders.append(edge)
    ppr.insert_element_before(borders, *_AFTER_PBDR)


def _narrow(paragraph: Paragraph, width: Length) -> None:
    """Indent both sides so the paragraph is `width` wide and centred."""
    side = Emu((TEXT_WIDTH - width) // 2)
    paragraph.paragraph_format.left_indent = side
    paragraph.paragraph_format.right_indent = side


def _dotted_line(doc: DocxDocument, label: str = "") -> Paragraph:
    """`label` followed by dots to the right margin (a tab with a dot leader)."""
    paragraph = _para(doc, indent=Cm(0.75) if label else None, before=Pt(5), after=Pt(0))
    paragraph.paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS)
    _run(paragraph, f"{label}: \t" if label else "\t")
    return paragraph


# --- sections ---------------------------------------------------------------------------------------------------


def _add_heading(doc: DocxDocument, memo: MemoDocument) -> None:
    center = WD_ALIGN_PARAGRAPH.CENTER
    _para(doc, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, align=center, after=Pt(0))
    _para(doc, "Độc lập - Tự do - Hạnh phúc", bold=True, align=center, after=Pt(0))
    rule = _para(doc, align=center, before=Pt(3), after=Pt(6))  # the short line under the motto
    rule.paragraph_format.line_spacing = Pt(2)
    _narrow(rule, Cm(5))
    _border(rule, ("top",), size=8)
    _para(
        doc,
        f"{_or_blank(memo.signed_place, CELL_BLANK)}, {_date_words(memo.drafted_on)}",
        italic=True,
        align=WD_ALIGN_PARAGRAPH.RIGHT,
        after=Pt(12),
    )
    status = _text(memo.status)
    if status:
        mark = _para(doc, status, bold=True, align=center, after=Pt(6))
        _narrow(mark, Cm(5))
        _border(mark, ("top", "left", "bottom", "right"), size=12, space=2)
    _para(doc, f"Số: {_or_blank(memo.number, CELL_BLANK)}", align=center, after=Pt(6))
    _para(doc, TITLE, bold=True, size=Pt(14), align=center, after=Pt(2))
    event = _text(memo.event)
    if event:
        _para(doc, f"(Trong khuôn khổ: {event})", italic=True, align=center, after=Pt(2))
    for index, basis in enumerate(LEGAL_BASES):
        _para(doc, basis, italic=True, indent=Cm(0.75), before=Pt(10) if index == 0 else None, after=Pt(2))


def party_lines(party: MemoParty) -> list[tuple[str, str]]:
    """A party's labelled lines under its heading; a field not given is a dotted blank to fill in by hand."""
    lines = [("Loại hình", _text(party.kind))] if _text(party.kind) else []
    return lines + [
        (label, _or_blank(value))
        for label, value in (
            ("Người đại diện", party.representative),
            ("Chức vụ", party.position),
            ("Địa chỉ", party.address),
            ("Mã số thuế", party.tax_code),
            ("Điện thoại", party.phone),
            ("Email", party.email),
        )
    ]


def add_party(doc: DocxDocument, heading: str, party: MemoParty) -> None:
    """A party's block: ``heading: name`` in bold, then ``party_lines``, kept together on one page."""
    paragraph = _para(doc, before=Pt(6), keep_with_next=True)
    _run(paragraph, f"{heading}: ", bold=True)
    _run(paragraph, _or_blank(party.name), bold=True)
    lines = party_lines(party)
    for index, (label, value) in enumerate(lines, start=1):
        _labelled(doc, label, value).paragraph_format.keep_with_next = index < len(lines)


def _add_parties(doc: DocxDocument, memo: MemoDocument) -> None:
    place = _or_blank(memo.signed_place, CELL_BLANK)
    _para(doc, f"Hôm nay, {_date_words(memo.drafted_on)}, tại {place}, chúng tôi gồm:", before=Pt(6))
    add_party(doc, "BÊN A (BÊN MUA)", memo.party_a)
    add_party(doc, "BÊN B (BÊN BÁN – CHỦ THỂ SẢN PHẨM OCOP)", memo.party_b)
    _para(
        doc,
        "Hai bên thống nhất lập Biên bản ghi nhớ hợp tác tiêu thụ sản phẩm OCOP với các nội dung sau:",
        before=Pt(6),
    )


def _cell_text(cell: _Cell, text: str, *, bold: bool = False, center: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_before = paragraph.paragraph_format.space_after = Pt(1)
    paragraph.paragraph_format.line_spacing = 1.0
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(paragraph, text, bold=bold, size=TABLE_FONT_SIZE)
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER


def _shade(cell: _Cell, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().insert_element_before(shading, *_AFTER_TC_SHD)


def _cell_margins(table: Table, side: Length) -> None:
    """Left and right cell padding for the whole table."""
    margins = OxmlElement("w:tblCellMar")
    for edge in ("left", "right"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:w"), str(side.twips))
        element.set(qn("w:type"), "dxa")
        margins.append(element)
    table._tbl.tblPr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")


def _fix_widths(table: Table, widths: list[Length]) -> None:
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width


def _add_products(doc: DocxDocument, memo: MemoDocument) -> None:
    _para(doc, "Điều 1. Sản phẩm hợp tác", bold=True, before=Pt(6), keep_with_next=True)
    _para(doc, "Bên A có nhu cầu tìm hiểu, tiêu thụ các sản phẩm OCOP của Bên B như sau:", keep_with_next=True)
    table = doc.add_table(rows=1, cols=len(PRODUCT_COLUMNS))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _cell_margins(table, Cm(0.1))
    header = table.rows[0]
    header_props = header._tr.get_or_add_trPr()
    header_props.append(OxmlElement("w:tblHeader"))  # repeat on every page
    for cell, (title, _width) in zip(header.cells, PRODUCT_COLUMNS, strict=True):
        _cell_text(cell, title, bold=True, center=True)
        _shade(cell, "E7E6E6")
    for index, line in enumerate(memo.lines, start=1):
        row = table.add_row()
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        values = (line.product, line.ocop, line.certificate, line.unit, line.volume, line.season)
        _cell_text(row.cells[0], str(index), center=True)
        for cell, value in zip(row.cells[1:], values, strict=True):
            _cell_text(cell, _or_blank(value, CELL_BLANK))
    _fix_widths(table, [Cm(width) for _title, width in PRODUCT_COLUMNS])
    message = _text(memo.buyer_message, multiline=True)
    if message:
        paragraph = _para(doc, before=Pt(6))
        _run(paragraph, "Nhu cầu của Bên A: ", bold=True)
        _run(paragraph, message, italic=True)


def _add_negotiation(doc: DocxDocument) -> None:
    _para(doc, "Điều 2. Các nội dung thỏa thuận tiếp", bold=True, before=Pt(8), keep_with_next=True)
    _para(doc, "Hai bên tiếp tục trao đổi, đàm phán và thống nhất các nội dung sau:", keep_with_next=True)
    for index, item in enumerate(NEGOTIATION_ITEMS, start=1):
        _dotted_line(doc, f"{index}. {item}").paragraph_format.keep_with_next = True
    _dotted_line(doc)  # room for "Các nội dung khác"


def _add_commitments(doc: DocxDocument) -> None:
    _para(doc, "Điều 3. Cam kết chung", bold=True, before=Pt(8), keep_with_next=True)
    for index, clause in enumerate(COMMITMENTS, start=1):
        paragraph = _para(doc, f"{index}. {clause}", align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent=Cm(0.75))
        paragraph.paragraph_format.first_line_indent = Cm(-0.5)
        paragraph.paragraph_format.keep_with_next = index == len(COMMITMENTS)


def _add_signatures(doc: DocxDocument, memo: MemoDocument) -> None:
    _para(doc, after=Pt(0), keep_with_next=True)
    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    for cell, heading, party in zip(
        table.rows[0].cells, ("ĐẠI DIỆN BÊN A", "ĐẠI DIỆN BÊN B"), (memo.party_a, memo.party_b), strict=True
    ):
        center = WD_ALIGN_PARAGRAPH.CENTER
        first = cell.paragraphs[0]
        first.alignment = center
        first.paragraph_format.space_after = Pt(0)
        _run(first, heading, bold=True)
        position = _text(party.position)
        if position:  # "GIÁM ĐỐC" under "ĐẠI DIỆN BÊN A", as such memos are signed
            _para(cell, position.upper(), bold=True, align=center, after=Pt(0))
        _para(cell, "(Ký, ghi rõ họ tên, đóng dấu nếu có)", italic=True, size=Pt(12), align=center)
        for _ in range(4):
            _para(cell, after=Pt(6))
        _para(cell, _text(party.representative), bold=True, align=center)
    _fix_widths(table, [Emu(TEXT_WIDTH // 2)] * 2)


def add_notes(doc: DocxDocument, notes: tuple[str, ...]) -> None:
    """Notes under the signatures (italic), e.g. "confirmed by the office on behalf of the producer"."""
    for index, note in enumerate(notes):
        _para(doc, _text(note), italic=True, size=Pt(11), before=Pt(10) if index == 0 else None)
