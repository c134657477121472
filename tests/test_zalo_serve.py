"""Configuring the Zalo channels, and `ocop-bot serve` running both of them against the fakes until SIGTERM."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from bot.channels import configured
from bot.config import ConfigError, ZaloBotSettings, ZaloOASettings, load_settings
from tests.fake_zalo import (
    APP_ID,
    APP_SECRET,
    BOT_TOKEN,
    FIRST_REFRESH,
    WEBHOOK_KEY,
    FakeZaloBot,
    FakeZaloOA,
    wait_until,
)
from tests.loopback import serve_process, serving

EXAMPLE = Path(__file__).parents[1] / "config.example.toml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("OCOP_BOT"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_zalo_key_is_documented_in_the_example() -> None:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    text = EXAMPLE.read_text(encoding="utf-8")
    for section, model in (("bot", ZaloBotSettings), ("oa", ZaloOASettings)):
        assert section in example["zalo"]
        for key in model.model_fields:
            assert re.search(rf"^(# )?{key} = ", text, flags=re.M), f"zalo.{section}.{key} is not documented"
    assert configured(load_settings(EXAMPLE)) == []


def test_a_zalo_channel_needs_the_link_signing_secret_and_address(tmp_path: Path) -> None:
    path = write(tmp_path, '[zalo.bot]\ntoken = "1:very-secret-token"\nmode = "webhook"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    message = str(error.value)
    for key in ("zalo.bot.webhook_secret", "web.secret", "web.public_url"):
        assert f"key '{key}'" in message
    assert "OCOP_BOT__WEB__PUBLIC_URL" in message and "very-secret-token" not in message


def test_the_oa_needs_its_app_and_keys(tmp_path: Path) -> None:
    path = write(tmp_path, '[zalo.oa]\nrefresh_token = "rt-secret-value"\n'
                           '[web]\nsecret = "s3cret-for-links-0123456789-abcdefgh"\npublic_url = "https://ocop.example.vn"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    message = str(error.value)
    assert all(f"key 'zalo.oa.{key}'" in message for key in ("app_id", "app_secret"))
    assert "webhook_key" not in message  # Zalo shows the key only once the URL is saved: it may come later
    assert "rt-secret-value" not in message
    complete = f'app_id = "{APP_ID}"\napp_secret = "app-secret"\nwebhook_key = "oa-key"\n'
    settings = load_settings(write(tmp_path, path.read_text().replace("[zalo.oa]\n", "[zalo.oa]\n" + complete)))
    assert settings.zalo.oa.enabled and [spec.name for spec in configured(settings)] == ["zalo_oa"]


def test_a_short_webhook_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[zalo.bot]\nwebhook_secret = "short"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert "zalo.bot.webhook_secret" in str(error.value) and "'short'" not in str(error.value)


async def test_serve_runs_both_zalo_channels(tmp_path: Path, unused_tcp_port: int) -> None:
    async with serving(FakeZaloBot()) as bot, serving(FakeZaloOA()) as oa:
        settings = {
            "OCOP_BOT__WEB__SECRET": "link-secret-for-serve-0123456789-abcdef",
            "OCOP_BOT__WEB__PUBLIC_URL": "https://ocop.example.vn",
            "OCOP_BOT__ZALO__BOT__TOKEN": BOT_TOKEN,
            "OCOP_BOT__ZALO__BOT__BASE_URL": bot.url,
            "OCOP_BOT__ZALO__BOT__POLL_TIMEOUT": "1",
            "OCOP_BOT__ZALO__OA__APP_ID": APP_ID,
            "OCOP_BOT__ZALO__OA__APP_SECRET": APP_SECRET,
            "OCOP_BOT__ZALO__OA__WEBHOOK_KEY": WEBHOOK_KEY,
            "OCOP_BOT__ZALO__OA__REFRESH_TOKEN": FIRST_REFRESH,
            "OCOP_BOT__ZALO__OA__BASE_URL": oa.url,
            "OCOP_BOT__ZALO__OA__OAUTH_URL": oa.url,
        }
        async with serve_process(tmp_path, unused_tcp_port, settings) as served:
            await bot.push(bot.update("b1", "che thai nguyen"))
            await wait_until(lambda: bool(bot.texts("b1")), timeout=20, what="the Zalo Bot reply")
            assert "Thái Nguyên" in bot.texts("b1")[0]  # the sample catalogue was loaded into the empty database
            assert await oa.push(f"{served.base}/zalo/oa/webhook", oa.text("3001", "nuoc mam phu quoc")) == 200
            await wait_until(lambda: bool(oa.texts("3001")), timeout=20, what="the OA reply")
            assert "Phú Quốc" in oa.texts("3001")[0] and oa.refreshes == 1
    assert served.returncode == 0, served.err
    assert "serving zalo_bot, zalo_oa" in served.out
    logs = served.out + served.err
    assert BOT_TOKEN not in logs and APP_SECRET not in logs and "access-1" not in logs
