"""The channel registry: every module of bot/ that declares a channel — a module-level ``CHANNEL = ChannelSpec(…)``
(bot/channel.py) — is one. ``serve`` runs the configured ones, ``build_services`` takes their admins from
``[admins]``, the broadcast sender their lanes; none of them names a channel.

Adding a channel: one module (a ``ChannelRuntime`` subclass and its ``CHANNEL``), its section in bot/config.py
(and config.example.toml), and its labels (``channel.<name>`` in handlers/locales/*.po).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from functools import cache

import bot
from bot.channel import ChannelSpec
from bot.config import Settings


@cache
def registry() -> tuple[ChannelSpec, ...]:
    """Every declared channel, by name. The modules of bot/ are imported to find them (once per process)."""
    found: dict[str, ChannelSpec] = {}
    for module in pkgutil.iter_modules(bot.__path__):
        spec = getattr(importlib.import_module(f"{bot.__name__}.{module.name}"), "CHANNEL", None)
        if not isinstance(spec, ChannelSpec):
            continue
        if spec.name in found:
            raise ValueError(f"two modules declare the channel {spec.name!r}")
        found[spec.name] = spec
    return tuple(found[name] for name in sorted(found))


def configured(settings: Settings, channels: Sequence[ChannelSpec] | None = None) -> list[ChannelSpec]:
    """The channels ``serve`` starts with these settings (of ``channels``; the registry by default)."""
    return [spec for spec in (registry() if channels is None else channels) if spec.configured(settings)]


def admin_ids(settings: Settings, channels: Sequence[ChannelSpec] | None = None) -> dict[str, frozenset[str]]:
    """Channel name -> the user ids listed as its admins in ``[admins]``."""
    listed = settings.admins
    return {
        spec.name: frozenset(getattr(listed, spec.admins))
        for spec in (registry() if channels is None else channels)
    }


def broadcast_channels(channels: Sequence[ChannelSpec] | None = None) -> tuple[str, ...]:
    """The channels a broadcast reaches: those with a broadcast lane (Zalo OA has none — its 7-day window makes a
    broadcast a paid campaign)."""
    return tuple(spec.name for spec in (registry() if channels is None else channels) if spec.broadcast)


def how_to_enable(channels: Sequence[ChannelSpec] | None = None) -> str:
    """The keys that turn the channels on, for messages: "telegram.token, zalo.bot.token or zalo.oa.refresh_token"."""
    keys = [spec.enabled_by for spec in (registry() if channels is None else channels) if spec.enabled_by]
    return f"{', '.join(keys[:-1])} or {keys[-1]}" if len(keys) > 1 else "".join(keys)
