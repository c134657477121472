"""Every message key the handlers use exists, with text, in both catalogues; placeholders agree."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from handlers.i18n import LANGUAGES, catalog_keys, language_of, translator
from models import catalog_import, tabular

HANDLERS = Path(__file__).parents[1] / "handlers"
KEY = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")
PROBLEM = re.compile(r"(?:ImportProblem|UnreadableFile|ImportFileError)\(\s*\"([a-z_0-9]+)\"")


def used_keys() -> tuple[set[str], set[str]]:
    """Literal keys, and prefixes of keys built with f-strings ("group.{n}")."""
    literal, prefixes = set(), set()
    for path in HANDLERS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY.match(node.value):
                literal.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = str(node.values[0].value)
                if re.fullmatch(r"[a-z_]+(\.[a-z_]+)*\.", head):
                    prefixes.add(head)
    return literal, prefixes


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_key_is_translated(language: str) -> None:
    catalog = catalog_keys(language)
    literal, prefixes = used_keys()
    known_prefixes = {key.rsplit(".", 1)[0] + "." for key in catalog}
    missing = sorted(key for key in literal if key not in catalog and key + "." not in known_prefixes)
    assert missing == []
    assert sorted(p for p in prefixes if p not in known_prefixes) == []
    assert all(catalog.values()), "empty translations"


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    vi, en = catalog_keys("vi"), catalog_keys("en")
    assert set(vi) == set(en)

    def fields(text: object) -> set[str]:
        texts = text if isinstance(text, tuple) else (text,)
        return {name for t in texts for _, name, _, _ in string.Formatter().parse(str(t)) if name}

    assert {k: fields(v) for k, v in vi.items()} == {k: fields(v) for k, v in en.items()}


def test_language_hints() -> None:
    assert language_of("en-US") == "en"
    assert language_of("vi") == "vi"
    assert language_of("fr") == "vi"
    assert language_of(None) == "vi"
    assert translator("en")("lang.set") == "Switched to English."
    assert translator("xx")("lang.set") == "Đã chuyển sang tiếng Việt."


def test_every_import_problem_and_column_can_be_explained_in_both_languages() -> None:
    """Import problems are raised with codes in models/; people read them through import.reason.* keys."""
    sources = [Path(module.__file__ or "").read_text() for module in (catalog_import, tabular)]
    codes = {code for source in sources for code in PROBLEM.findall(source)}
    assert {"unknown_place", "duplicate", "no_header", "empty", "malformed_csv"} <= codes
    for language in LANGUAGES:
        keys = catalog_keys(language)
        assert {f"import.reason.{code}" for code in codes} <= set(keys), language
        assert {f"import.column.{field}" for field in catalog_import.HEADERS} <= set(keys), language
