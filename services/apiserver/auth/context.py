"""The current request's user and attributes, visible to admission plugins.

Admission runs deep inside the generic store, whose signature knows nothing about users; a
ContextVar carries the request identity down the same asyncio task instead of threading it
through every call (upstream passes it in the request context for the same reason).
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .attributes import Attributes

current: ContextVar[Attributes | None] = ContextVar("kubeling_request_attributes", default=None)
