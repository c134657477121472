from pathlib import Path

import pytest

from bot.channels import configured
from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("OCOP_BOT"):
            monkeypatch.delenv(name)


def test_defaults_without_a_file() -> None:
    settings = load_settings()
    assert settings.database.url.startswith("sqlite+aiosqlite:///")
    assert settings.telegram.mode == "polling"
    assert configured(settings) == []


def test_config_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[telegram]\ntoken = "123:ABC"\n', encoding="utf-8")
    settings = load_settings()
    assert [spec.name for spec in configured(settings)] == ["telegram"]


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[telegram]\nmode = "polling"\n[database]\nurl = "sqlite+aiosqlite:///x.db"\n', encoding="utf-8")
    monkeypatch.setenv("OCOP_BOT__TELEGRAM__MODE", "webhook")
    monkeypatch.setenv("OCOP_BOT__TELEGRAM__TOKEN", "999:SECRET")
    settings = load_settings(path)
    assert settings.telegram.mode == "webhook"
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "999:SECRET"
    assert settings.database.url == "sqlite+aiosqlite:///x.db"
    assert "999:SECRET" not in repr(settings)


def test_bad_value_names_file_key_and_expectation(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[telegram]\nmode = "pull"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    message = str(error.value)
    assert str(path) in message
    assert "telegram.mode" in message
    assert "'polling' or 'webhook'" in message
    assert "'pull'" in message


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[database]\nurll = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"database\.urll.*unknown key"):
        load_settings(path)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("[telegram\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bot\.toml: not valid TOML.*line 1"):
        load_settings(path)


def test_secrets_are_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("[telegram]\ntoken = 12345\nwebhook_secret = [1]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert "telegram.webhook_secret" in str(error.value)
    assert "[1]" not in str(error.value)


def test_missing_explicit_file() -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(Path("nope.toml"))


def test_the_example_config_is_valid() -> None:
    example = Path(__file__).parents[1] / "config.example.toml"
    settings = load_settings(example)
    assert settings.default_language == "vi"
