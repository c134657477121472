"""Starting the configured Zalo channels (Bot Platform, Official Account) next to the others in `serve`."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.config import Settings
from bot.links import link_signer
from bot.zalo_base import ZaloChannel
from bot.zalo_bot import ZaloBotChannel
from bot.zalo_oa import ZaloOAChannel
from handlers.app import Conversation


def zalo_channels(settings: Settings, conversation: Conversation) -> list[ZaloChannel]:
    signer = link_signer(settings.web)
    channels: list[ZaloChannel] = []
    if settings.zalo.bot.token is None and not settings.zalo.oa.enabled:
        return channels
    if signer is None:
        raise ValueError("the Zalo channels send memos as download links: set web.secret and web.public_url")
    if settings.zalo.bot.token is not None:
        channels.append(ZaloBotChannel(conversation, settings.zalo.bot, signer))
    if settings.zalo.oa.enabled:
        channels.append(ZaloOAChannel(conversation, settings.zalo.oa, signer))
    return channels


async def start_zalo(settings: Settings, conversation: Conversation, web_app: web.Application) -> list[asyncio.Task]:
    """Start every configured Zalo channel; call before the web server starts (webhook routes are added to it).

    Each task runs one channel (polling, notifications) until cancelled, then disconnects it; a channel whose
    credentials Zalo refuses logs what to fix and its task ends.
    """
    tasks: list[asyncio.Task] = []
    for channel in zalo_channels(settings, conversation):
        await channel.start(web_app)
        tasks.append(asyncio.create_task(channel.run(), name=channel.name))
    return tasks
