"""Every table, imported in one place so that metadata (and Alembic) sees the whole schema."""

from sqlmodel import SQLModel

from models.catalog import CatalogVersion, Producer, Product
from models.claims import ClaimCode
from models.conversation import ChatState, ProcessedUpdate
from models.memos import Memo
from models.notifications import Notification
from models.people import BuyerProfile, Identity, User
from models.requests import ContactRequest

metadata = SQLModel.metadata

__all__ = [
    "BuyerProfile", "CatalogVersion", "ChatState", "ClaimCode", "ContactRequest", "Identity", "Memo",
    "Notification", "ProcessedUpdate", "Producer", "Product", "User", "metadata",
]
