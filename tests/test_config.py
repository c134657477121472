from pathlib import Path

import pytest

from bot.channels import configured
from bot.cli import main
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
    monkeypatch.setenv("OCOP_BOT__TELEGRAM__WEBHOOK_SECRET", "Webhook_secret-0123")
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


@pytest.mark.parametrize(
    ("toml", "key", "value", "rule"),
    [
        ('[web]\nsecret = "{value}"\n', "web.secret", "q7", "too short (2 characters): it needs at least 32"),
        ('[web]\nsecret = "{value}"\n', "web.secret", "abababababababababababababababab", "10 different characters"),
        ('[telegram]\nwebhook_secret = "{value}"\n', "telegram.webhook_secret", "s3cret", "at least 16"),
        ('[telegram]\nwebhook_secret = "{value}"\n', "telegram.webhook_secret", "long enough but spaces",
         "only the characters A-Z a-z 0-9 _ -"),
        ('[zalo.bot]\nwebhook_secret = "{value}"\n', "zalo.bot.webhook_secret", "eight-ch", "at least 16"),
        ('[zalo.oa]\nwebhook_key = "{value}"\n', "zalo.oa.webhook_key", "", "empty"),
    ],
)
def test_weak_secrets_are_refused_naming_key_and_rule_never_the_value(
    tmp_path: Path, toml: str, key: str, value: str, rule: str
) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(toml.format(value=value), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    message = str(error.value)
    assert f"key '{key}'" in message and rule in message
    assert not value or value not in message.replace(str(path), "")


def test_a_weak_secret_in_the_environment_stops_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OCOP_BOT__WEB__SECRET", "guessable-secret")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "key 'web.secret' (or OCOP_BOT__WEB__SECRET): too short (16 characters)" in err
    assert "secrets.token_urlsafe(32)" in err and "guessable-secret" not in err


def test_good_secrets_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[web]\nsecret = "Xq3vJ9mN2pL8kR5tW7yB4cF6hD1gZ0sA-_e"\n'
                    '[telegram]\nwebhook_secret = "Ab0_-Cd1Ef2Gh3Ij4"\n'
                    '[zalo.bot]\nwebhook_secret = "any chars: 16+ ok!"\n'
                    '[zalo.oa]\nwebhook_key = "k"\napp_secret = "s"\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.web.secret is not None and len(settings.web.secret.get_secret_value()) == 35


def test_a_telegram_webhook_needs_its_secret(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[telegram]\ntoken = "1:abc"\nmode = "webhook"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'telegram\.webhook_secret'.*required in webhook mode"):
        load_settings(path)
