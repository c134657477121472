"""The office's list of who registered for an event, as an XLSX people open in Excel (headers and roles in the
admin's language, given by the caller; dates dd/mm/yyyy; frozen header, filters, column widths)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from models.admin import require_admin
from models.audit import record
from models.clock import TIMEZONE
from models.events import get_event, registrant_list
from models.exports import MIME, ExportFile, ExportFormat
from models.people import User
from models.tabular import write_xlsx

COLUMNS = ("name", "company", "role", "phone", "registered_on")


async def registrants_file(
    session: AsyncSession,
    admin: User,
    event_id: int,
    now: datetime,
    header: Sequence[str],
    role_label: Callable[[str], str],
) -> ExportFile:
    """The registrants of an event, one row each in ``COLUMNS`` order under ``header``; audited (it holds phone
    numbers)."""
    require_admin(admin)
    event = await get_event(session, event_id)
    rows = [
        (person.name, person.company, role_label(person.role), person.phone,
         person.registered_at.astimezone(TIMEZONE).date())
        for person in await registrant_list(session, event_id)
    ]
    buffer = io.BytesIO()
    write_xlsx(header, rows, buffer, title=event.name)
    record(session, admin.id, "export", f"registrants of event #{event_id}", now, f"xlsx, {len(rows)} rows")
    filename = f"ocop-event-{event_id}-registrants-{now.astimezone(TIMEZONE):%Y%m%d-%H%M}.xlsx"
    return ExportFile(filename, buffer.getvalue(), MIME[ExportFormat.XLSX], len(rows))
