"""People using the bot: users with their channel identities, roles and buyer profiles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class Role(StrEnum):
    NONE = "none"  # has not chosen yet
    BUYER = "buyer"
    PRODUCER = "producer"
    ADMIN = "admin"


class BuyerKind(StrEnum):
    SUPERMARKET = "supermarket"
    RETAIL_CHAIN = "retail_chain"
    DISTRIBUTOR = "distributor"
    WHOLESALER = "wholesaler"
    EXPORTER = "exporter"
    HORECA = "horeca"
    ECOMMERCE = "ecommerce"


class Channel(StrEnum):
    TELEGRAM = "telegram"
    ZALO_BOT = "zalo_bot"
    ZALO_OA = "zalo_oa"
    CONSOLE = "console"


class User(SQLModel, table=True):
    """A person; one user may hold several channel identities once they link them."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=200)
    role: str = Field(default=Role.NONE.value, max_length=20)
    language: str = Field(default="vi", max_length=8)
    phone: str = Field(default="", max_length=40)  # only ever stored after the user shared it
    producer_id: int | None = Field(default=None, foreign_key="producer.id", index=True)
    blocked: bool = False  # the user blocked the bot: nothing more is sent
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Identity(SQLModel, table=True):
    """A user's account on one channel (Telegram user id, Zalo user id, console name)."""

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=100)  # ids are strings everywhere: Zalo ids exceed 2**53
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class BuyerProfile(SQLModel, table=True):
    """What a buyer told us about their business."""

    __tablename__ = "buyer_profile"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    company: str = Field(default="", max_length=300)
    kind: str = Field(default=BuyerKind.DISTRIBUTOR.value, max_length=20)
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
