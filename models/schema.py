"""Every table, imported in one place so that metadata (and Alembic) sees the whole schema."""

from sqlmodel import SQLModel

from models.catalog import CatalogVersion, Producer, Product
from models.people import BuyerProfile, Identity, User

metadata = SQLModel.metadata

__all__ = ["BuyerProfile", "CatalogVersion", "Identity", "Producer", "Product", "User", "metadata"]
