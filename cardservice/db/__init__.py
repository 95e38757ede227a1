"""Engine and session setup, the declarative base, and migrations."""

from cardservice.db.base import Base
from cardservice.db.engine import Database

__all__ = ["Base", "Database"]
