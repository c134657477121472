"""Settings: defaults < config.toml (or --config PATH) < environment (OCOP_BOT__SECTION__KEY)."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_CONFIG = Path("config.toml")
ENV_PREFIX = "OCOP_BOT__"
_SENSITIVE = ("token", "secret", "password", "url", "key")
MAKE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


@dataclass(frozen=True)
class SecretRule:
    """What a secret we choose must look like; a refusal names the rule and the length, never the value."""

    min_length: int
    max_length: int = 1024
    alphabet: str = ""  # a regex character class the whole value must be made of, e.g. "A-Za-z0-9_-"
    alphabet_name: str = ""  # the same, as told to people
    distinct: int = 1  # different characters at least: "aaaa…" is long but no secret

    def __call__(self, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if not text:
            problem = "empty: give the value, or leave the key out"
        elif len(text) < self.min_length:
            problem = f"too short ({len(text)} characters): it needs at least {self.min_length}"
        elif len(text) > self.max_length:
            problem = f"too long ({len(text)} characters): at most {self.max_length} are allowed"
        elif self.alphabet and not re.fullmatch(f"[{self.alphabet}]+", text):
            problem = f"only the characters {self.alphabet_name} are allowed"
        elif len(set(text)) < self.distinct:
            problem = f"too repetitive: it needs at least {self.distinct} different characters"
        else:
            return value
        hint = f"; make a random one with: {MAKE_SECRET}" if self.min_length > 1 else ""
        raise PydanticCustomError("secret_rule", "{problem}{hint}", {"problem": problem, "hint": hint})


# Signs download links with HMAC-SHA256, so whoever learns it forges every link: it must resist an offline search
# from one link. 32 random URL-safe characters are about 190 bits.
LinkSecret = Annotated[SecretStr, AfterValidator(SecretRule(32, distinct=10))]
# Telegram takes 1-256 characters of A-Z a-z 0-9 _ -; 16 random ones are about 95 bits.
TelegramWebhookSecret = Annotated[
    SecretStr, AfterValidator(SecretRule(16, 256, alphabet=r"A-Za-z0-9_\-", alphabet_name="A-Z a-z 0-9 _ -"))
]
# Zalo Bot Platform takes 8-256 characters; we ask for 16 as for Telegram.
ZaloWebhookSecret = Annotated[SecretStr, AfterValidator(SecretRule(16, 256))]
# What Prometheus sends as a bearer token to read /metrics: 24 random URL-safe characters are about 140 bits.
MetricsToken = Annotated[SecretStr, AfterValidator(SecretRule(24, distinct=8))]
# Issued by Zalo (the app's and the OA's secret keys): whatever Zalo gave, but not empty.
IssuedSecret = Annotated[SecretStr, AfterValidator(SecretRule(1))]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///data/ocop.sqlite3"
    echo: bool = False


class TelegramSettings(Section):
    token: SecretStr | None = None
    mode: Literal["polling", "webhook"] = "polling"
    base_url: str = "https://api.telegram.org/bot"
    webhook_url: str = ""
    webhook_path: str = Field(default="webhook", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    webhook_secret: TelegramWebhookSecret | None = None
    poll_timeout: int = Field(default=30, ge=1, le=60)  # seconds a getUpdates call waits for updates
    messages_per_second: float = Field(default=30.0, gt=0, le=1000)  # all replies of this process (Bot API: ~30)
    chat_gap_seconds: float = Field(default=1.0, ge=0, le=60)  # between two messages to one private chat


class ZaloBotSettings(Section):
    token: SecretStr | None = None
    mode: Literal["polling", "webhook"] = "polling"
    base_url: str = "https://bot-api.zaloplatforms.com"
    webhook_url: str = ""
    webhook_path: str = Field(default="webhook", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    webhook_secret: ZaloWebhookSecret | None = None
    poll_timeout: int = Field(default=30, ge=1, le=60)


class ZaloOASettings(Section):
    """Zalo Official Account: events by webhook, messages through Open API v3, tokens by OAuth v4 refresh."""

    app_id: str = ""
    oa_id: str = ""
    app_secret: IssuedSecret | None = None  # header secret_key of the token refresh
    # the key in X-ZEvent-Signature (the OA Secret Key, or the app secret); until set, events are ignored
    webhook_key: IssuedSecret | None = None
    refresh_token: SecretStr | None = None  # the first one; rotated tokens live in the database
    access_token: SecretStr | None = None
    base_url: str = "https://openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com"
    webhook_path: str = Field(default="webhook", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    refresh_ahead_minutes: int = Field(default=30, ge=1, le=600)
    request_info_image_url: str = ""

    @property
    def enabled(self) -> bool:
        return self.refresh_token is not None or self.access_token is not None


class ZaloSettings(Section):
    bot: ZaloBotSettings = ZaloBotSettings()
    oa: ZaloOASettings = ZaloOASettings()


class WebSettings(Section):
    """Our aiohttp server: webhooks, /healthz and signed memo downloads."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = ""  # how users reach it, e.g. https://ocop.example.vn (links in messages)
    secret: LinkSecret | None = None  # signs download links; required when a channel needs links
    link_ttl_hours: int = Field(default=72, ge=1)


class LinksSettings(Section):
    """Deep links to the bot (QR codes at fairs, shared cards). Signed with ``secret``, or [web] secret when unset."""

    secret: LinkSecret | None = None
    telegram_username: str = Field(default="", pattern=r"^@?[A-Za-z0-9_]{0,64}$")  # empty: the name getMe gives
    zalo_oa_url: str = ""  # empty: https://zalo.me/<zalo.oa.oa_id> when the OA is configured
    zalo_bot_url: str = ""  # the Zalo bot's link as Zalo shows it (https://zalo.me/…); empty: no Zalo bot link
class MetricsSettings(Section):
    """/metrics in the Prometheus text format: not served until a token is set; the scraper sends it as
    ``Authorization: Bearer <token>``."""

    token: MetricsToken | None = None


class CatalogSettings(Section):
    load_sample_when_empty: bool = True


class AdminSettings(Section):
    """Who administers the bot, per channel (user ids as the platform gives them, as strings)."""

    telegram: list[str] = []
    zalo: list[str] = []
    console: list[str] = []


class ContactSettings(Section):
    daily_quota: int = Field(default=20, ge=1, le=1000)
    remind_after_hours: int = Field(default=48, ge=1)
    expire_after_days: int = Field(default=7, ge=1)


class MeetingSettings(Section):
    """One-to-one meetings at events: how many each buyer and each producer may hold per event, the reminder."""

    per_person: int = Field(default=8, ge=1, le=200)
    remind_minutes_before: int = Field(default=15, ge=1, le=24 * 60)


class ConversationSettings(Section):
    flow_expiry_hours: float = Field(default=24.0, gt=0, le=24 * 30)  # a flow left alone this long ends


class BroadcastSettings(Section):
    """The broadcast sender: rates (messages a second), sends in flight, retries, progress reports."""

    telegram_rate: float = Field(default=29.0, gt=0, le=30)  # Telegram allows about 30 a second per bot
    telegram_in_flight: int = Field(default=16, ge=1, le=1000)
    telegram_paid: bool = False  # allow_paid_broadcast: up to 1000 a second, paid in Telegram Stars
    telegram_paid_rate: float = Field(default=950.0, gt=0, le=1000)
    telegram_paid_in_flight: int = Field(default=200, ge=1, le=1000)
    zalo_rate: float = Field(default=10.0, gt=0, le=1000)
    zalo_in_flight: int = Field(default=8, ge=1, le=1000)
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_first_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)
    send_timeout_seconds: float = Field(default=15.0, gt=0)
    progress_seconds: float = Field(default=3.0, ge=0.1)
    lock_retry_seconds: float = Field(default=5.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", hide_input_in_errors=True
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object a line (bot/logs.py)
    default_language: Literal["vi", "en"] = "vi"
    database: DatabaseSettings = DatabaseSettings()
    telegram: TelegramSettings = TelegramSettings()
    zalo: ZaloSettings = ZaloSettings()
    catalog: CatalogSettings = CatalogSettings()
    web: WebSettings = WebSettings()
    links: LinksSettings = LinksSettings()
    metrics: MetricsSettings = MetricsSettings()
    admins: AdminSettings = AdminSettings()
    contact: ContactSettings = ContactSettings()
    conversation: ConversationSettings = ConversationSettings()
    meetings: MeetingSettings = MeetingSettings()
    broadcast: BroadcastSettings = BroadcastSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment must win over them.
        return env_settings, init_settings

    def missing(self) -> list[tuple[str, str]]:
        """Keys that other settings make necessary: (key, why)."""
        found: list[tuple[str, str]] = []
        bot, oa, telegram = self.zalo.bot, self.zalo.oa, self.telegram
        if telegram.token is not None and telegram.mode == "webhook" and telegram.webhook_secret is None:
            found.append(("telegram.webhook_secret", "required in webhook mode"))
        if bot.token is not None and bot.mode == "webhook" and bot.webhook_secret is None:
            found.append(("zalo.bot.webhook_secret", "required in webhook mode"))
        if oa.enabled:
            for key, value in (("app_id", oa.app_id), ("app_secret", oa.app_secret)):
                if not value:
                    found.append((f"zalo.oa.{key}", "required when zalo.oa has a token"))
        if bot.token is not None or oa.enabled:
            why = "required by the Zalo channels, which send memos as download links"
            if self.web.secret is None:
                found.append(("web.secret", why))
            if not self.web.public_url:
                found.append(("web.public_url", why))
        return found


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


def load_settings(path: Path | None = None) -> Settings:
    """Read ``path`` (or ./config.toml when present) and the environment; raise ConfigError naming the key."""
    explicit = path is not None
    path = path or Path(os.environ.get("OCOP_BOT_CONFIG", DEFAULT_CONFIG))
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    elif explicit:
        raise ConfigError(f"{path}: no such config file")
    source = f"{path}" if path.exists() else "environment"
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None
    if missing := settings.missing():
        lines = [f"{source}: incomplete configuration"]
        lines += [f"  - key '{key}' (or {ENV_PREFIX}{key.replace('.', '__').upper()}): {why}" for key, why in missing]
        raise ConfigError("\n".join(lines))
    return settings


def _describe(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid configuration"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        env = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
        if error["type"] == "extra_forbidden":
            lines.append(f"  - key '{key}' (or {env}): unknown key; see config.example.toml for the known ones")
            continue
        expected = error["msg"]
        shown = "" if any(word in key for word in _SENSITIVE) else f" (got {error.get('input')!r})"
        lines.append(f"  - key '{key}' (or {env}): {expected}{shown}")
    return "\n".join(lines)
