"""The console channel, scripted through stdin: office, producer and buyer in separate processes, one database."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.loopback import BIN


def chat(tmp_path: Path, user: str, lines: list[str], *extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCOP_BOT")}
    env["OCOP_BOT__DATABASE__URL"] = f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}"
    result = subprocess.run(
        [str(BIN), "chat", "--user", user, *extra],
        input="".join(line + "\n" for line in lines),
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_three_terminals_one_journey(tmp_path: Path) -> None:
    office = chat(tmp_path, "office", ["/claimcode HTX Chè Hảo Đạt", "1"], "--as", "admin")
    code = re.search(r"Hảo Đạt»: ([A-Z0-9]{8})", office)
    assert code, office

    producer = chat(tmp_path, "hao", ["hảo đạt", "1", code.group(1)], "--as", "producer")
    assert "Xác nhận thành công" in producer

    buyer = chat(
        tmp_path, "lan",
        ["Siêu thị Xanh", "1", "0912345678", "che tan cuong", "1", "1",  # the regions question is left unanswered
         "Cần 200 hộp chè cho Tết", "300 hộp", "Tết 2027", "1"],
        "--as", "buyer",
    )
    assert "Tên doanh nghiệp" in buyer  # --as buyer goes straight to the buyer questions
    assert "Đã gửi yêu cầu #1" in buyer

    producer = chat(tmp_path, "hao", ["1"])  # the waiting request is shown first; 1 = accept
    assert "Yêu cầu liên hệ mới #1" in producer and "0912345678" in producer
    assert "bien-ban-ghi-nho-1.docx" in producer

    buyer = chat(tmp_path, "lan", [])
    assert "Nhà sản xuất đã chấp nhận" in buyer and "0900 000" in buyer
    assert (tmp_path / "data/documents/bien-ban-ghi-nho-1.docx").stat().st_size > 5000


def test_a_buyer_types_as_on_a_phone(tmp_path: Path) -> None:
    """Chat sentences, English and Telex leftovers in the real console; a number opens a result, an English reader
    sees what kind of product each one is."""
    out = chat(
        tmp_path, "trial",
        ["chào shop, cho mình hỏi mua nước mắm phú quốc được không", "black pepper", "maatj ong hafg giang", "1",
         "/lang", "2", "fish sauce"],
    )
    sentence, pepper, telex = out.split("Tìm thấy")[1:4]
    assert "1. Nước mắm Phú Quốc 40 độ đạm Hàm Ninh Xanh" in sentence
    assert "1. Tiêu đen" in pepper and "— black pepper — ★" in pepper  # asked in English: the kind in English
    assert "INFO" not in out and "sends the broadcasts" not in out  # a person's chat, not a log
    assert "1. Mật ong bạc hà Mèo Vạc Cao Nguyên Đá" in telex
    assert "Liên hệ nhà sản xuất" in out  # "1" opened the honey's card
    assert "Nước mắm Phú Quốc 40 độ đạm Hàm Ninh Xanh — fish sauce" in out


def test_menus_on_the_console_never_lock_and_lists_show_once(tmp_path: Path) -> None:
    """The bugs of numbered menus, as a person types them into the console."""
    out = chat(tmp_path, "mai", ["/start", "1", "Siêu thị Xanh", "9", "Siêu thị", "bỏ qua", "che tan cuong", "1"])
    assert "Câu trả lời đó không có trong các lựa chọn." in out  # after "9" the menu comes again…
    assert "Siêu thị Xanh đã được đăng ký là người mua" in out  # …and the option's own text is taken
    assert "Hoặc gõ «Bỏ qua»." in out  # the phone step: a number there is the phone, skip is a word
    assert "1. Chè búp Tân Cương Hảo Đạt — ★★★★★" in out and "1. 1." not in out and "bấm" not in out
    assert out.count("Trả lời bằng số thứ tự") <= 2  # the hint under the first menu and after the wrong answer
    assert "Liên hệ nhà sản xuất" in out  # "1" under the results opened the card
