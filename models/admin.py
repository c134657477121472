"""Who is an admin: the people listed in the config per channel, and those an admin granted it to (audited).

The config is the authority for its own admins: someone removed from it stops being an admin at their next
message, unless an admin granted them the role. A revoked or removed admin gets back the role their data shows
(producer when linked to a producer record, buyer when they have a buyer profile, none otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import parse
from models.audit import record
from models.db import UTCDateTime, utcnow
from models.errors import AdminChangeRefused, NotAuthorised
from models.people import BuyerProfile, Identity, Role, User, identities_of
from models.text import fold

AdminIds = Mapping[str, frozenset[str]]  # channel -> external ids listed in the config
MAX_MATCHES = 8


class AdminGrant(SQLModel, table=True):
    """Admin rights given in the bot by another admin (config admins have no row)."""

    __tablename__ = "admin_grant"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    granted_by: int | None = Field(default=None, foreign_key="app_user.id")
    granted_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


@dataclass(frozen=True)
class AdminView:
    user: User
    identities: list[Identity]
    listed: bool  # in the config
    grant: AdminGrant | None


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise NotAuthorised("admins only")


def listed_in_config(identities: list[Identity], admin_ids: AdminIds) -> bool:
    return any(identity.external_id in admin_ids.get(identity.channel, frozenset()) for identity in identities)


async def base_role(session: AsyncSession, user: User) -> Role:
    """The role a user's own data gives them, admin rights aside."""
    if user.producer_id is not None:
        return Role.PRODUCER
    if await session.get(BuyerProfile, user.id) is not None:
        return Role.BUYER
    return Role.NONE


async def sync_admin_role(session: AsyncSession, user: User, admin_ids: AdminIds, *, listed: bool) -> None:
    """Make ``user`` an admin when the identity they write from is listed; demote an admin nobody lists or granted.

    ``listed`` tells whether the identity of this update is in the config; other identities of the user are only
    read on the rare path of an admin who is not listed through this one.
    """
    if listed:
        user.role = Role.ADMIN.value
        return
    if not user.is_admin or await session.get(AdminGrant, user.id) is not None:
        return
    if listed_in_config(await identities_of(session, user.id or 0), admin_ids):
        return
    user.role = (await base_role(session, user)).value


async def grant_admin(session: AsyncSession, actor: User, target: User, now: datetime) -> None:
    require_admin(actor)
    if target.is_admin:
        raise AdminChangeRefused("already_admin")
    assert target.id is not None
    session.add(AdminGrant(user_id=target.id, granted_by=actor.id, granted_at=now))
    target.role = Role.ADMIN.value
    record(session, actor.id, "admin.grant", f"user:{target.id}", now, target.display_name)
    await session.flush()


async def revoke_admin(session: AsyncSession, actor: User, target: User, admin_ids: AdminIds, now: datetime) -> None:
    require_admin(actor)
    if not target.is_admin:
        raise AdminChangeRefused("not_admin")
    if listed_in_config(await identities_of(session, target.id or 0), admin_ids):
        raise AdminChangeRefused("listed_in_config")
    grant = await session.get(AdminGrant, target.id)
    if grant is not None:
        await session.delete(grant)
    target.role = (await base_role(session, target)).value
    record(session, actor.id, "admin.revoke", f"user:{target.id}", now, target.display_name)
    await session.flush()


async def find_people(session: AsyncSession, text: str, channel: str) -> list[User]:
    """Users ``text`` names: "#12" (our number), "telegram:123" or a bare id on ``channel``, or part of a name."""
    text = text.strip()
    if text.startswith("#"):
        user_id = parse.record_id(text)
        user = await session.get(User, user_id) if user_id is not None else None
        return [user] if user else []
    on_channel, _, external = text.partition(":") if ":" in text else (channel, "", text)
    if external and " " not in external:
        query = select(User).join(Identity).where(Identity.channel == on_channel, Identity.external_id == external)
        user = (await session.exec(query)).first()
        if user is not None:
            return [user]
    key = fold(text)
    if len(key) < 2:
        return []
    users = (await session.exec(select(User).order_by(col(User.id)))).all()
    return [user for user in users if key in fold(user.display_name)][:MAX_MATCHES]


async def admins(session: AsyncSession, admin_ids: AdminIds) -> list[AdminView]:
    """Every current admin, with how they became one."""
    users = (await session.exec(select(User).where(User.role == Role.ADMIN.value).order_by(col(User.id)))).all()
    views = []
    for user in users:
        identities = await identities_of(session, user.id or 0)
        grant = await session.get(AdminGrant, user.id)
        views.append(AdminView(user, identities, listed_in_config(identities, admin_ids), grant))
    return views
