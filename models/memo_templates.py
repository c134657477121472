"""The two memo kinds without a product table, as .docx files: the framework memo between organisations (the
office, associations, provinces) and the buyer ↔ province memo. They share the layout of the buyer ↔ producer memo
(models/memo_document.py), its helpers and its party block (``render_party``: one function for every party)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

from models import memo_document as base
from models.memo_document import MemoDocument, MemoParty

render_party = base.add_party  # the party block every template uses; the memo kinds only choose the headings


@dataclass(frozen=True)
class Template:
    title: str
    legal_bases: tuple[str, ...]
    heading_a: str
    heading_b: str
    content_heading: str  # Điều 1: what the memo is about (the content the parties agreed or the buyer wants)
    duties: tuple[tuple[str, tuple[str, ...]], ...]  # Điều 2: (who, what they undertake)
    commitments: tuple[str, ...]  # Điều 3


_CIVIL_CODE = "Căn cứ Bộ luật Dân sự số 91/2015/QH13 ngày 24 tháng 11 năm 2015;"
_OCOP = (
    "Căn cứ Quyết định số 919/QĐ-TTg ngày 01 tháng 8 năm 2022 của Thủ tướng Chính phủ phê duyệt Chương trình "
    "Mỗi xã một sản phẩm giai đoạn 2021 – 2025;"
)
_VALIDITY = "Biên bản ghi nhớ có hiệu lực kể từ ngày ký và trong thời hạn 12 (mười hai) tháng."
_COPIES = "Biên bản được lập thành 02 (hai) bản có giá trị như nhau, mỗi bên giữ 01 (một) bản."

FRAMEWORK = Template(
    title="BIÊN BẢN GHI NHỚ HỢP TÁC",
    legal_bases=(_CIVIL_CODE, _OCOP, "Căn cứ chức năng, nhiệm vụ và nhu cầu hợp tác của hai bên."),
    heading_a="BÊN A",
    heading_b="BÊN B",
    content_heading="Điều 1. Nội dung hợp tác",
    duties=(
        ("Hai bên", (
            "Phối hợp tổ chức các hoạt động kết nối giao thương, xúc tiến tiêu thụ sản phẩm OCOP;",
            "Chia sẻ thông tin về nguồn cung, nhu cầu thị trường và các chính sách hỗ trợ;",
            "Giao đầu mối theo dõi, đôn đốc thực hiện và định kỳ trao đổi kết quả.",
        )),
    ),
    commitments=(
        "Biên bản ghi nhớ này là khuôn khổ hợp tác, là cơ sở để hai bên xây dựng kế hoạch và ký kết các thỏa "
        "thuận cụ thể; không làm phát sinh nghĩa vụ tài chính đối với bất kỳ bên nào.",
        _VALIDITY,
        _COPIES,
    ),
)

PROVINCE = Template(
    title="BIÊN BẢN GHI NHỚ HỢP TÁC TIÊU THỤ SẢN PHẨM OCOP CỦA ĐỊA PHƯƠNG",
    legal_bases=(_CIVIL_CODE, _OCOP, "Căn cứ nhu cầu của Bên A và khả năng cung ứng của các chủ thể OCOP địa phương."),
    heading_a="BÊN A (DOANH NGHIỆP, SIÊU THỊ)",
    heading_b="BÊN B (ĐẦU MỐI KẾT NỐI CỦA ĐỊA PHƯƠNG)",
    content_heading="Điều 1. Nhu cầu tiêu thụ sản phẩm của địa phương",
    duties=(
        ("Bên A", (
            "Tìm hiểu, lựa chọn và tiêu thụ sản phẩm OCOP của địa phương theo nhu cầu nêu tại Điều 1;",
            "Hỗ trợ các chủ thể OCOP về tiêu chuẩn chất lượng, nhãn mác, mã vạch để đưa sản phẩm vào hệ thống "
            "phân phối.",
        )),
        ("Bên B", (
            "Giới thiệu các chủ thể, sản phẩm OCOP đáp ứng nhu cầu của Bên A;",
            "Làm đầu mối tổ chức khảo sát vùng nguyên liệu, gặp gỡ và kết nối Bên A với các chủ thể OCOP.",
        )),
    ),
    commitments=(
        "Biên bản ghi nhớ này ghi nhận ý định hợp tác và là cơ sở để Bên A ký kết hợp đồng mua bán với từng "
        "chủ thể OCOP; không làm phát sinh nghĩa vụ mua, bán đối với bất kỳ bên nào.",
        _VALIDITY,
        _COPIES,
    ),
)


@dataclass(frozen=True)
class ContentMemo:
    """A framework or buyer ↔ province memo, as printed."""

    template: Template
    number: str  # "7/2026/BBGN-TC"
    signed_place: str
    drafted_on: base.date
    status: str  # "BẢN DỰ THẢO", "ĐÃ XÁC NHẬN" or "ĐÃ KÝ"
    party_a: MemoParty
    party_b: MemoParty
    content: str  # Điều 1, as written (several lines)
    volume: str = ""  # province memos: the expected volume ("" → omitted)
    event: str = ""
    notes: tuple[str, ...] = ()


def render_content_memo_docx(memo: ContentMemo) -> bytes:
    """The memo as a .docx file (bytes), in Vietnamese, ready to print and sign."""
    template = memo.template
    doc = Document()
    layout = MemoDocument(memo.number, memo.signed_place, memo.drafted_on, memo.status, memo.party_a, memo.party_b,
                          (), "", memo.event)
    base._set_up(doc, layout)
    props = doc.core_properties
    props.title = f"{template.title.capitalize()} số {base._text(memo.number)}"
    props.subject = f"{base._text(memo.party_a.name)} – {base._text(memo.party_b.name)}"
    _add_heading(doc, memo)
    _add_parties(doc, memo)
    _add_articles(doc, memo)
    base._add_signatures(doc, layout)
    base.add_notes(doc, memo.notes)
    buffer = io.BytesIO()
    doc.save(buffer)
    return base._repack(buffer.getvalue(), memo.drafted_on)


def _add_heading(doc: Document, memo: ContentMemo) -> None:
    center = WD_ALIGN_PARAGRAPH.CENTER
    base._para(doc, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, align=center, after=Pt(0))
    base._para(doc, "Độc lập - Tự do - Hạnh phúc", bold=True, align=center, after=Pt(0))
    rule = base._para(doc, align=center, before=Pt(3), after=Pt(6))
    rule.paragraph_format.line_spacing = Pt(2)
    base._narrow(rule, Cm(5))
    base._border(rule, ("top",), size=8)
    place = base._or_blank(memo.signed_place, base.CELL_BLANK)
    base._para(doc, f"{place}, {base._date_words(memo.drafted_on)}", italic=True, align=WD_ALIGN_PARAGRAPH.RIGHT,
               after=Pt(12))
    status = base._text(memo.status)
    if status:
        mark = base._para(doc, status, bold=True, align=center, after=Pt(6))
        base._narrow(mark, Cm(5))
        base._border(mark, ("top", "left", "bottom", "right"), size=12, space=2)
    base._para(doc, f"Số: {base._or_blank(memo.number, base.CELL_BLANK)}", align=center, after=Pt(6))
    base._para(doc, memo.template.title, bold=True, size=Pt(14), align=center, after=Pt(2))
    event = base._text(memo.event)
    if event:
        base._para(doc, f"(Trong khuôn khổ: {event})", italic=True, align=center, after=Pt(2))
    for index, basis in enumerate(memo.template.legal_bases):
        base._para(doc, basis, italic=True, indent=Cm(0.75), before=Pt(10) if index == 0 else None, after=Pt(2))


def _add_parties(doc: Document, memo: ContentMemo) -> None:
    place = base._or_blank(memo.signed_place, base.CELL_BLANK)
    base._para(doc, f"Hôm nay, {base._date_words(memo.drafted_on)}, tại {place}, chúng tôi gồm:", before=Pt(6))
    render_party(doc, memo.template.heading_a, memo.party_a)
    render_party(doc, memo.template.heading_b, memo.party_b)
    base._para(doc, "Hai bên thống nhất ký Biên bản ghi nhớ hợp tác với các nội dung sau:", before=Pt(6))


def _add_articles(doc: Document, memo: ContentMemo) -> None:
    template = memo.template
    base._para(doc, template.content_heading, bold=True, before=Pt(6), keep_with_next=True)
    for line in (base._text(memo.content, multiline=True) or base.BLANK).split("\n"):
        base._para(doc, line, align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent=Cm(0.75))
    volume = base._text(memo.volume)
    if volume:
        base._labelled(doc, "Sản lượng dự kiến", volume)
    base._para(doc, "Điều 2. Trách nhiệm của các bên", bold=True, before=Pt(8), keep_with_next=True)
    for who, duties in template.duties:
        base._para(doc, f"{who}:", bold=True, indent=Cm(0.75), keep_with_next=True)
        for duty in duties:
            base._para(doc, f"– {duty}", align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent=Cm(1.25))
    base._para(doc, "Điều 3. Điều khoản chung", bold=True, before=Pt(8), keep_with_next=True)
    for index, clause in enumerate(template.commitments, start=1):
        paragraph = base._para(doc, f"{index}. {clause}", align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent=Cm(0.75))
        paragraph.paragraph_format.first_line_indent = Cm(-0.5)
