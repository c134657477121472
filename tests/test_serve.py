"""`ocop-bot serve` as an operator runs it: Telegram in webhook mode behind our web server, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.fake_telegram import TOKEN, FakeTelegram, post_webhook

BIN = Path(sys.executable).parent / "ocop-bot"


async def test_serve_webhook_healthz_and_sigterm(tmp_path: Path, unused_tcp_port: int) -> None:
    fake = FakeTelegram()
    await fake.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCOP_BOT")}
    env.update({
        "OCOP_BOT__DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}",
        "OCOP_BOT__TELEGRAM__TOKEN": TOKEN,
        "OCOP_BOT__TELEGRAM__BASE_URL": fake.base_url,
        "OCOP_BOT__TELEGRAM__MODE": "webhook",
        "OCOP_BOT__TELEGRAM__WEBHOOK_SECRET": "hook-secret",
        "OCOP_BOT__TELEGRAM__WEBHOOK_URL": "https://ocop.example.vn/telegram/webhook",
        "OCOP_BOT__WEB__PORT": str(unused_tcp_port),
    })
    process = await asyncio.create_subprocess_exec(
        str(BIN), "serve", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{unused_tcp_port}"
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            update = fake.message_update(77, "che thai nguyen")
            assert await post_webhook(f"{base}/telegram/webhook", update, "hook-secret") == 200
            reply = await fake.wait_for(77, "Chè", timeout=20)
            assert "Thái Nguyên" in reply.text  # the sample catalogue was loaded into the empty database
        assert fake.count("setWebhook") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
        await fake.stop()
    assert process.returncode == 0, err.decode()
    assert TOKEN not in out.decode() + err.decode()  # secrets never reach the logs
