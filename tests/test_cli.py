"""The ocop-bot command as people and scripts use it (each test runs the real console script)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.loopback import BIN
from tests.test_import import MIXED


def run(tmp_path: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OCOP_BOT")}
    environment["OCOP_BOT__DATABASE__URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    environment.update(env or {})
    return subprocess.run(
        [str(BIN), *args], cwd=tmp_path, input=stdin, capture_output=True, text=True, env=environment, timeout=120
    )


def test_import_reports_each_bad_row_and_imports_the_rest(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(MIXED, encoding="utf-8")
    dry = run(tmp_path, "import", "list.csv", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would import 3 products" in dry.stdout
    done = run(tmp_path, "import", "list.csv")
    assert done.returncode == 0, done.stderr
    assert "imported 3 products (3 new" in done.stdout
    assert "9 rows rejected" in done.stdout
    assert "line 4: unknown province 'Atlantis'" in done.stdout
    assert "line 6: bad decision date '31/02/2024'" in done.stdout
    again = run(tmp_path, "import", "list.csv")
    assert "(0 new, 0 updated, 3 unchanged" in again.stdout


def test_import_of_a_non_spreadsheet_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "photo.xlsx").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    result = run(tmp_path, "import", "photo.xlsx")
    assert result.returncode == 1
    assert "not a CSV or XLSX file" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_csv_and_xlsx(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(MIXED, encoding="utf-8")
    run(tmp_path, "import", "list.csv")
    exported = run(tmp_path, "export", "products")
    assert exported.returncode == 0
    header, *rows = exported.stdout.splitlines()
    assert header.startswith("id,name,producer,producer_kind,address,ward,province,old_province,region,group")
    assert len(rows) == 3
    xlsx = run(tmp_path, "export", "products", "--format", "xlsx", "--output", "out.xlsx")
    assert xlsx.returncode == 0 and (tmp_path / "out.xlsx").stat().st_size > 0
    back = run(tmp_path, "import", "out.xlsx")
    assert "(0 new, 0 updated, 3 unchanged" in back.stdout


def test_search_json_and_json_lines(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(MIXED, encoding="utf-8")
    run(tmp_path, "import", "list.csv")
    one = run(tmp_path, "search", "mat ong ha giang", "--json", "--limit", "3")
    assert one.returncode == 0, one.stderr
    items = json.loads(one.stdout)
    assert items[0]["name"] == "Mật ong bạc hà Mèo Vạc"
    assert {"id", "name", "producer", "province", "old_province", "region", "group", "stars", "score"} <= set(items[0])
    assert (items[0]["province"], items[0]["old_province"]) == ("Tuyên Quang", "Hà Giang")

    many = run(tmp_path, "search", "-", "--json", stdin="gom bat trang\n\nche tan cuong\nxyzzy qqq\n")
    lines = [json.loads(line) for line in many.stdout.splitlines()]
    assert len(lines) == 4
    assert lines[0][0]["name"] == "Gốm men lam"
    assert lines[1] == [] and lines[3] == []
    assert lines[2][0]["name"] == "Chè búp Tân Cương"

    table = run(tmp_path, "search", "dn")
    assert "could be Đà Nẵng, Đồng Nai, Đắk Nông" in table.stdout


def test_malformed_config_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[telegram]\nmode = "pull"\n', encoding="utf-8")
    result = run(tmp_path, "--config", "bad.toml", "db", "upgrade")
    assert result.returncode == 2
    assert "bad.toml" in result.stderr and "telegram.mode" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_loads_the_sample_catalogue_once(tmp_path: Path) -> None:
    first = run(tmp_path, "run")
    assert first.returncode == 0, first.stderr
    assert "Loaded the bundled SAMPLE catalogue" in first.stdout
    assert "OCOP catalogue:" in first.stdout
    second = run(tmp_path, "run")
    assert "Loaded the bundled SAMPLE" not in second.stdout
