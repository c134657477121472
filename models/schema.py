"""Every table, imported in one place so that metadata (and Alembic) sees the whole schema."""

from sqlmodel import SQLModel

from models.admin import AdminGrant
from models.audit import AuditLog
from models.broadcasts import Broadcast, Delivery
from models.catalog import CatalogVersion, Producer, Product
from models.certificates import CertificateReminder
from models.claims import ClaimCode
from models.conversation import ChatState
from models.dashboard import DashboardLogin, DashboardSession
from models.events import Event, Registration
from models.import_jobs import ImportJob
from models.inbox import InboundUpdate
from models.linking import LinkCode
from models.meetings import Meeting, MeetingGrid, MeetingSlot, MeetingTable
from models.memos import Memo
from models.notifications import Notification
from models.outbox import ChatSender, OutboundMessage
from models.people import BuyerProfile, Identity, User
from models.requests import ContactRequest
from models.scans import LinkScan
from models.search_log import SearchLog
from models.stored_files import StoredFile
from models.zalo import ZaloToken

metadata = SQLModel.metadata

__all__ = [
    "AdminGrant", "AuditLog", "Broadcast", "BuyerProfile", "CatalogVersion", "CertificateReminder", "ChatSender",
    "ChatState", "ClaimCode", "ContactRequest", "DashboardLogin", "DashboardSession", "Delivery", "Event", "Identity",
    "ImportJob", "InboundUpdate", "LinkCode", "LinkScan", "Meeting", "MeetingGrid", "MeetingSlot", "MeetingTable",
    "Memo", "Notification", "OutboundMessage", "Producer", "Product", "Registration", "SearchLog", "StoredFile", "User",
    "ZaloToken", "metadata",
]
