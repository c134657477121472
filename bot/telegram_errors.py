"""python-telegram-bot's errors as what to do next (bot/retry.py), for the channel and its broadcast lane alike;
the token never appears in the text."""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.retry import ChannelUnavailable, RecipientBlocked, SendFailed, Throttled, TryLater

REFUSED = "Telegram refused the bot token (401): check telegram.token (a token revoked in @BotFather stops at once)"


def translated(error: TelegramError, what: str = "") -> Exception:
    """Throttled (retry_after), refused credentials, a blocked chat, a message refused as it is, or try later."""
    prefix = f"{what}: " if what else ""
    if isinstance(error, RetryAfter):
        with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            after = error.retry_after
        return Throttled(after.total_seconds() if isinstance(after, timedelta) else float(after), what)
    if isinstance(error, InvalidToken):  # its text holds the token
        return ChannelUnavailable(REFUSED)
    if isinstance(error, Forbidden):
        return RecipientBlocked(str(error))
    if isinstance(error, ChatMigrated):
        return SendFailed(f"{prefix}the group is now {error.new_chat_id}")
    if isinstance(error, BadRequest):  # a NetworkError too: sorted first
        return SendFailed(f"{prefix}{error}")
    return TryLater(f"{prefix}{type(error).__name__}: {error}")
