"""People using the bot: users with their channel identities, roles and buyer profiles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

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


class User(SQLModel, table=True):
    """A person; one user may hold several channel identities once they link them."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=200)
    role: str = Field(default=Role.NONE.value, max_length=20)
    language: str = Field(default="vi", max_length=8)
    phone: str = Field(default="", max_length=40)  # only ever stored after the user shared it
    phone_verified: bool = False  # shared through the platform's button (Telegram contact, Zalo OA form), not typed
    producer_id: int | None = Field(default=None, foreign_key="producer.id", index=True)
    blocked: bool = False  # the user blocked the bot: nothing more is sent

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @property
    def is_buyer(self) -> bool:
        return self.role == Role.BUYER.value

    @property
    def is_producer(self) -> bool:
        return self.role == Role.PRODUCER.value and self.producer_id is not None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Identity(SQLModel, table=True):
    """A user's account on one channel (Telegram user id, Zalo user id, console name)."""

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=100)  # ids are strings everywhere: Zalo ids exceed 2**53
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    # The platform would not deliver to this identity for now (Zalo OA: no message from them in 7 days):
    # notifications wait for them instead of being tried again and again. Cleared when they write.
    unreachable_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class BuyerProfile(SQLModel, table=True):
    """What a buyer told us about their business."""

    __tablename__ = "buyer_profile"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    company: str = Field(default="", max_length=300)
    kind: str = Field(default=BuyerKind.DISTRIBUTOR.value, max_length=20)
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The party in a memo (models.parties): who signs, in what position, the organisation's address, MST, e-mail.
    representative: str = Field(default="", max_length=200)
    position: str = Field(default="", max_length=120)
    address: str = Field(default="", max_length=500)
    tax_code: str = Field(default="", max_length=14)
    email: str = Field(default="", max_length=200)


async def user_for_identity(
    session: AsyncSession, channel: str, external_id: str, *, display_name: str = "", language: str = "vi"
) -> User:
    """The user behind a channel identity, created on first contact (race-free across processes)."""
    mine = (Identity.channel == channel) & (Identity.external_id == external_id)
    found = (await session.exec(select(User, Identity).join(Identity).where(mine))).first()
    if found is not None:
        user, identity = found
        if display_name and user.display_name != display_name:
            user.display_name = display_name[:200]
        user.blocked = False  # they wrote to us: they can be reached again
        if identity.unreachable_since is not None:
            identity.unreachable_since = None
        return user
    user = User(display_name=display_name[:200], language=language)
    session.add(user)
    await session.flush()
    assert user.id is not None
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgres_insert if dialect == "postgresql" else sqlite_insert
    values = {"user_id": user.id, "channel": channel, "external_id": external_id, "created_at": utcnow()}
    created = await (await session.connection()).execute(insert(Identity).values(**values).on_conflict_do_nothing())
    if not created.rowcount:  # another process created this person meanwhile: theirs is the one
        await session.delete(user)
        await session.flush()
        return await user_for_identity(session, channel, external_id, display_name=display_name, language=language)
    return user


async def identities_of(session: AsyncSession, user_id: int) -> list[Identity]:
    return list((await session.exec(select(Identity).where(Identity.user_id == user_id))).all())


async def users_with_role(session: AsyncSession, role: Role) -> list[User]:
    query = select(User).where(User.role == role.value, col(User.blocked).is_(False)).order_by(col(User.id))
    return list((await session.exec(query)).all())


async def users_of_producer(session: AsyncSession, producer_id: int) -> list[User]:
    query = select(User).where(User.producer_id == producer_id, col(User.blocked).is_(False)).order_by(col(User.id))
    return list((await session.exec(query)).all())


async def language_of_identity(session: AsyncSession, channel: str, external_id: str) -> str | None:
    query = select(User.language).join(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
    return (await session.exec(query)).first()


async def mark_blocked(session: AsyncSession, channel: str, external_id: str) -> None:
    """The platform told us this user blocked the bot: send them nothing more until they write again."""
    query = select(User).join(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
    user = (await session.exec(query)).first()
    if user is not None:
        user.blocked = True
