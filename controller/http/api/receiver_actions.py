"""`/api/v1/receivers/{id}/volume|restart|test-tone` (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["receivers"])
