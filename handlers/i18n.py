"""User-facing text in Vietnamese (default) and English, from gettext catalogues (handlers/locales/*.po).

Message ids are keys ("search.found"); the catalogues hold the text. Babel compiles the .po files in memory at
first use, so there is no build step and no binary file in the repository.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = Path(__file__).with_name("locales")
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


class Translator:
    def __init__(self, language: str, translations: Translations) -> None:
        self.language = language
        self._translations = translations

    def __call__(self, key: str, /, **params: object) -> str:
        text = self._translations.gettext(key)
        return text.format(**params) if params else text

    def plural(self, key: str, n: int, /, **params: object) -> str:
        return self._translations.ngettext(key, key, n).format(n=n, **params)


def language_of(hint: str | None) -> str:
    """Our language for a platform hint ("en-US" → "en"); Vietnamese otherwise."""
    code = (hint or "").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@cache
def translator(language: str) -> Translator:
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    with (LOCALES / f"{language}.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translator(language, Translations(buffer))


def catalog_keys(language: str) -> dict[str, object]:
    """Every message id in a catalogue with its text (tests check the catalogues agree)."""
    with (LOCALES / f"{language}.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    return {_key(message.id): message.string for message in catalog if message.id}


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]
