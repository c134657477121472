"""`ocop-bot serve` as an operator runs it: Telegram in webhook mode behind our web server, stopped by SIGTERM."""

from __future__ import annotations

from pathlib import Path

from tests.fake_telegram import TOKEN, FakeTelegram, post_webhook
from tests.loopback import serve_process, serving


async def test_serve_webhook_healthz_and_sigterm(tmp_path: Path, unused_tcp_port: int) -> None:
    async with serving(FakeTelegram()) as fake:
        settings = {
            "OCOP_BOT__TELEGRAM__TOKEN": TOKEN,
            "OCOP_BOT__TELEGRAM__BASE_URL": fake.base_url,
            "OCOP_BOT__TELEGRAM__MODE": "webhook",
            "OCOP_BOT__TELEGRAM__WEBHOOK_SECRET": "hook-secret-0123456789",
            "OCOP_BOT__TELEGRAM__WEBHOOK_URL": "https://ocop.example.vn/telegram/webhook",
        }
        async with serve_process(tmp_path, unused_tcp_port, settings) as served:
            update = fake.message_update(77, "che thai nguyen")
            assert await post_webhook(f"{served.base}/telegram/webhook", update, "hook-secret-0123456789") == 200
            reply = await fake.wait_for(77, "Chè", timeout=20)
            assert "Thái Nguyên" in reply.text  # the sample catalogue was loaded into the empty database
        assert fake.count("setWebhook") == 1
    assert served.returncode == 0, served.err
    assert TOKEN not in served.out + served.err  # secrets never reach the logs
