import io
import unicodedata
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import docx
import pytest
from docx.document import Document
from docx.shared import Pt

from models.memo_document import (
    BLANK,
    CELL_BLANK,
    FOOTER_NOTE,
    NEGOTIATION_ITEMS,
    PRODUCT_COLUMNS,
    TITLE,
    MemoDocument,
    MemoLine,
    MemoParty,
    render_memo_docx,
)

BUYER = MemoParty(
    name="Công ty TNHH Thương mại Hà Thành",
    representative="Nguyễn Văn An",
    address="",
    phone="0912 345 678",
    email="",
    kind="Siêu thị",
    position="Giám đốc",
    tax_code="0300588569",
)
PRODUCER = MemoParty(
    name="Hợp tác xã Nông nghiệp Mường Khương",
    representative="",
    address="Xã Mường Khương, tỉnh Lào Cai",
    phone="0214 3881 234",
    email="htx.muongkhuong@example.vn",
    kind="Hợp tác xã",
)
CHILLI = MemoLine(
    product="Tương ớt Mường Khương",
    ocop="OCOP 4 sao (tiềm năng 5 sao)",
    certificate="QĐ số 123/QĐ-UBND ngày 15/03/2023, hiệu lực đến 15/03/2026",
    unit="chai 250ml",
    volume="2.000 chai/tháng",
    season="Quanh năm",
)
TEA = MemoLine("Chè Shan tuyết Tà Xùa", "OCOP 3 sao", "", "hộp 200g", "", "Tháng 3–5")
HONEY = MemoLine("Mật ong bạc hà", "OCOP 4 sao", "QĐ số 45/QĐ-UBND ngày 02/01/2024", "", "500 lọ/quý", "")
EVENT = "Hội nghị kết nối cung cầu sản phẩm OCOP khu vực ĐBSH 2026"


def make_memo(**changes: Any) -> MemoDocument:
    memo = MemoDocument(
        number="15/2026/BBGN-OCOP",
        signed_place="Hà Nội",
        drafted_on=date(2026, 3, 5),
        status="BẢN DỰ THẢO",
        party_a=BUYER,
        party_b=PRODUCER,
        lines=(CHILLI,),
        buyer_message="Cần nguồn hàng ổn định cho 12 siêu thị, có mã vạch và truy xuất nguồn gốc.",
    )
    return replace(memo, **changes)


def open_docx(memo: MemoDocument) -> Document:
    return docx.Document(io.BytesIO(render_memo_docx(memo)))


def body_lines(document: Document) -> list[str]:
    """Texts of the body paragraphs, outside tables."""
    return [paragraph.text for paragraph in document.paragraphs]


def all_text(document: Document) -> str:
    parts = body_lines(document)
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def product_table_rows(document: Document) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in document.tables[0].rows]


def test_renders_a_docx_package() -> None:
    data = render_memo_docx(make_memo())
    assert data[:2] == b"PK"
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert package.testzip() is None
        assert "word/document.xml" in package.namelist()


def test_header_title_status_and_number() -> None:
    lines = body_lines(open_docx(make_memo()))
    assert lines[:2] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
    assert "Hà Nội, ngày 05 tháng 03 năm 2026" in lines
    assert "BẢN DỰ THẢO" in lines
    assert "Số: 15/2026/BBGN-OCOP" in lines
    assert TITLE in lines
    # status and number come before the title
    assert lines.index("BẢN DỰ THẢO") < lines.index("Số: 15/2026/BBGN-OCOP") < lines.index(TITLE)


def test_title_is_bold_and_centred() -> None:
    document = open_docx(make_memo())
    title = next(p for p in document.paragraphs if p.text == TITLE)
    assert all(run.bold for run in title.runs)
    assert title.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.CENTER


@pytest.mark.parametrize("status", ["BẢN DỰ THẢO", "ĐÃ XÁC NHẬN", "ĐÃ KÝ"])
def test_status_mark(status: str) -> None:
    assert status in body_lines(open_docx(make_memo(status=status)))


def test_legal_bases() -> None:
    text = all_text(open_docx(make_memo()))
    assert "Bộ luật Dân sự số 91/2015/QH13" in text
    assert "Quyết định số 148/QĐ-TTg ngày 24 tháng 02 năm 2023" in text
    assert "Căn cứ nhu cầu và khả năng của hai bên." in text
    assert "Hôm nay, ngày 05 tháng 03 năm 2026, tại Hà Nội, chúng tôi gồm:" in text


def test_parties() -> None:
    lines = body_lines(open_docx(make_memo()))
    assert "BÊN A (BÊN MUA): Công ty TNHH Thương mại Hà Thành" in lines
    assert "BÊN B (BÊN BÁN – CHỦ THỂ SẢN PHẨM OCOP): Hợp tác xã Nông nghiệp Mường Khương" in lines
    start_a = lines.index("BÊN A (BÊN MUA): Công ty TNHH Thương mại Hà Thành")
    start_b = lines.index("BÊN B (BÊN BÁN – CHỦ THỂ SẢN PHẨM OCOP): Hợp tác xã Nông nghiệp Mường Khương")
    assert lines[start_a + 1 : start_b] == [
        "Loại hình: Siêu thị",
        "Người đại diện: Nguyễn Văn An",
        "Chức vụ: Giám đốc",
        f"Địa chỉ: {BLANK}",
        "Mã số thuế: 0300588569",
        "Điện thoại: 0912 345 678",
        f"Email: {BLANK}",
    ]
    assert lines[start_b + 1 : start_b + 8] == [
        "Loại hình: Hợp tác xã",
        f"Người đại diện: {BLANK}",
        f"Chức vụ: {BLANK}",
        "Địa chỉ: Xã Mường Khương, tỉnh Lào Cai",
        f"Mã số thuế: {BLANK}",
        "Điện thoại: 0214 3881 234",
        "Email: htx.muongkhuong@example.vn",
    ]


def test_empty_party_fields_become_dotted_blanks_and_kind_is_omitted() -> None:
    unknown = MemoParty(name="", representative="", address="", phone="", email="")
    lines = body_lines(open_docx(make_memo(party_b=unknown)))
    start = lines.index(f"BÊN B (BÊN BÁN – CHỦ THỂ SẢN PHẨM OCOP): {BLANK}")
    assert lines[start + 1 : start + 7] == [
        f"Người đại diện: {BLANK}",
        f"Chức vụ: {BLANK}",
        f"Địa chỉ: {BLANK}",
        f"Mã số thuế: {BLANK}",
        f"Điện thoại: {BLANK}",
        f"Email: {BLANK}",
    ]
    assert "Loại hình: Hợp tác xã" not in lines
    assert BLANK.strip("…") == ""


def test_product_table() -> None:
    document = open_docx(make_memo(lines=(CHILLI, TEA)))
    rows = product_table_rows(document)
    assert rows[0] == [title for title, _width in PRODUCT_COLUMNS]
    assert rows[0] == [
        "STT",
        "Tên sản phẩm",
        "Hạng OCOP",
        "Giấy chứng nhận",
        "Quy cách/ĐVT",
        "Sản lượng dự kiến",
        "Thời vụ/Thời gian giao hàng",
    ]
    assert rows[1] == [
        "1",
        "Tương ớt Mường Khương",
        "OCOP 4 sao (tiềm năng 5 sao)",
        "QĐ số 123/QĐ-UBND ngày 15/03/2023, hiệu lực đến 15/03/2026",
        "chai 250ml",
        "2.000 chai/tháng",
        "Quanh năm",
    ]
    assert rows[2] == ["2", "Chè Shan tuyết Tà Xùa", "OCOP 3 sao", CELL_BLANK, "hộp 200g", CELL_BLANK, "Tháng 3–5"]
    header = document.tables[0].rows[0]
    assert all(run.bold for cell in header.cells for run in cell.paragraphs[0].runs)
    assert document.tables[0].style.name == "Table Grid"
    assert "Điều 1. Sản phẩm hợp tác" in body_lines(document)


def test_three_lines_give_three_data_rows() -> None:
    rows = product_table_rows(open_docx(make_memo(lines=(CHILLI, TEA, HONEY))))
    assert len(rows) == 1 + 3
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    assert [row[1] for row in rows[1:]] == [CHILLI.product, TEA.product, HONEY.product]
    assert rows[3][4] == CELL_BLANK and rows[3][6] == CELL_BLANK


def test_buyer_message_only_when_given() -> None:
    lines = body_lines(open_docx(make_memo()))
    assert "Nhu cầu của Bên A: Cần nguồn hàng ổn định cho 12 siêu thị, có mã vạch và truy xuất nguồn gốc." in lines
    assert not any(line.startswith("Nhu cầu của Bên A") for line in body_lines(open_docx(make_memo(buyer_message=""))))


def test_event_line_only_when_given() -> None:
    with_event = body_lines(open_docx(make_memo(event=EVENT)))
    assert f"(Trong khuôn khổ: {EVENT})" in with_event
    assert with_event.index(TITLE) + 1 == with_event.index(f"(Trong khuôn khổ: {EVENT})")
    assert "Trong khuôn khổ" not in all_text(open_docx(make_memo()))


def test_negotiation_items() -> None:
    lines = body_lines(open_docx(make_memo()))
    assert "Điều 2. Các nội dung thỏa thuận tiếp" in lines
    expected = [
        "Giá bán và chính sách chiết khấu",
        "Phương thức và thời hạn thanh toán",
        "Phương thức giao nhận, vận chuyển",
        "Chương trình khuyến mại, trưng bày",
        "Tiêu chuẩn chất lượng, nhãn mác, mã vạch, truy xuất nguồn gốc",
        "Các nội dung khác",
    ]
    assert list(NEGOTIATION_ITEMS) == expected
    for number, item in enumerate(expected, start=1):
        assert f"{number}. {item}: \t" in lines  # followed by a dotted tab leader to the margin
    document = open_docx(make_memo())
    first = next(p for p in document.paragraphs if p.text.startswith("1. Giá bán"))
    assert first.paragraph_format.tab_stops[0].leader == docx.enum.text.WD_TAB_LEADER.DOTS


def test_commitments() -> None:
    text = all_text(open_docx(make_memo()))
    assert "Điều 3. Cam kết chung" in text
    assert "là cơ sở để hai bên tiếp tục đàm phán, ký kết hợp đồng mua bán" in text
    assert "không phải là hợp đồng mua bán hàng hóa" in text
    assert "bảo mật" in text
    assert "có hiệu lực kể từ ngày ký và trong thời hạn 12 (mười hai) tháng" in text
    assert "02 (hai) bản có giá trị như nhau, mỗi bên giữ 01 (một) bản" in text


def test_signature_block() -> None:
    document = open_docx(make_memo())
    assert len(document.tables) == 2
    signatures = document.tables[1]
    assert signatures.style is None or signatures.style.name != "Table Grid"
    left, right = signatures.rows[0].cells
    left_lines = [p.text for p in left.paragraphs if p.text]
    right_lines = [p.text for p in right.paragraphs if p.text]
    assert left_lines == ["ĐẠI DIỆN BÊN A", "GIÁM ĐỐC", "(Ký, ghi rõ họ tên, đóng dấu nếu có)", "Nguyễn Văn An"]
    assert right_lines == ["ĐẠI DIỆN BÊN B", "(Ký, ghi rõ họ tên, đóng dấu nếu có)"]  # unknown: signed by hand
    assert len(left.paragraphs) >= 6  # room for the signature


def test_footer_note() -> None:
    document = open_docx(make_memo())
    assert [p.text for p in document.sections[0].footer.paragraphs] == [FOOTER_NOTE]
    assert FOOTER_NOTE == "Biên bản được lập qua hệ thống kết nối giao thương OCOP (ocop-bot)."


def test_page_and_font() -> None:
    document = open_docx(make_memo())
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)  # A4
    assert round(section.left_margin.mm) == 30 and round(section.right_margin.mm) == 20
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman"
    assert normal.font.size == Pt(13)


def test_core_properties() -> None:
    props = open_docx(make_memo()).core_properties
    assert props.title == "Biên bản ghi nhớ hợp tác tiêu thụ sản phẩm OCOP số 15/2026/BBGN-OCOP"
    assert "Công ty TNHH Thương mại Hà Thành" in props.subject
    assert "Hợp tác xã Nông nghiệp Mường Khương" in props.subject
    assert props.created == datetime(2026, 3, 5, tzinfo=UTC)
    assert props.modified == props.created
    assert props.author == "ocop-bot"


def test_same_input_gives_same_bytes() -> None:
    memo = make_memo(lines=(CHILLI, TEA, HONEY), event=EVENT)
    assert render_memo_docx(memo) == render_memo_docx(memo)
    assert render_memo_docx(memo) == render_memo_docx(make_memo(lines=(CHILLI, TEA, HONEY), event=EVENT))
    assert render_memo_docx(memo) != render_memo_docx(replace(memo, drafted_on=date(2026, 3, 6)))


def test_zip_entries_carry_the_drafting_date() -> None:
    with zipfile.ZipFile(io.BytesIO(render_memo_docx(make_memo()))) as package:
        assert {info.date_time for info in package.infolist()} == {(2026, 3, 5, 0, 0, 0)}


def test_vietnamese_text_round_trips_exactly() -> None:
    name = "Cơ sở sản xuất Nước mắm Phú Quốc Khải Hoàn – Ông Nguyễn Thị Hường"
    product = "Nước mắm cốt nhĩ cá cơm 40°N ướp muối ủ chượp 12–18 tháng"
    message = "Chúng tôi muốn đặt hàng thường xuyên.\nXin báo giá sỉ và phí vận chuyển ra Hải Phòng ạ!"
    memo = make_memo(
        party_b=replace(PRODUCER, name=name, representative="Nguyễn Thị Hường"),
        lines=(replace(CHILLI, product=product),),
        buyer_message=message,
    )
    for value in (name, product, message):
        assert unicodedata.is_normalized("NFC", value)
    document = open_docx(memo)
    assert f"BÊN B (BÊN BÁN – CHỦ THỂ SẢN PHẨM OCOP): {name}" in body_lines(document)
    assert product_table_rows(document)[1][1] == product
    assert f"Nhu cầu của Bên A: {message}" in body_lines(document)
    assert "Nguyễn Thị Hường" in [p.text for p in document.tables[1].rows[0].cells[1].paragraphs]


def test_decomposed_input_is_printed_composed() -> None:
    name = "Hợp tác xã Chè Tân Cương"
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name
    lines = body_lines(open_docx(make_memo(party_b=replace(PRODUCER, name=decomposed))))
    assert f"BÊN B (BÊN BÁN – CHỦ THỂ SẢN PHẨM OCOP): {name}" in lines


def test_control_characters_are_dropped() -> None:
    memo = make_memo(
        buyer_message="Giao hàng\x00 trước\x0b Tết\r\nNguyên đán", party_a=replace(BUYER, phone="\x07090 1")
    )
    lines = body_lines(open_docx(memo))
    assert "Nhu cầu của Bên A: Giao hàng trước Tết\nNguyên đán" in lines
    assert "Điện thoại: 090 1" in lines


def test_no_lines_still_renders_the_table_header() -> None:
    rows = product_table_rows(open_docx(make_memo(lines=())))
    assert len(rows) == 1
