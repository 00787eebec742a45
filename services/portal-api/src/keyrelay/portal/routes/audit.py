"""Audit endpoints (SPEC §7): the caller's tenant's audit trail, and its chain verified."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from keyrelay.common.errors import InvalidArgument
from keyrelay.portal.adapters.audit_log import AuditLog, AuditQuery, record_json
from keyrelay.portal.deps import ClientsDep, require
from keyrelay.portal.domain.auth import Caller

router = APIRouter(prefix="/v1/audit", tags=["audit"])

ReaderDep = Annotated[Caller, Depends(require("read_only"))]
MAX_LIMIT = 500


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidArgument("cursor must be the next_cursor of a previous page")
    return int(cursor)


@router.get("")
async def list_audit(
    caller: ReaderDep,
    clients: ClientsDep,
    action: Annotated[str | None, Query(max_length=128, pattern=r"^[a-z0-9_.-]+$")] = None,
    outcome: Literal["success", "denied", "error"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """The caller's tenant's audit records, oldest first (by `seq`). `action` matches that
    action and the actions below it (`key` gives `key.created`, `key.listed`, ...); `since`
    is inclusive, `until` exclusive (RFC 3339). Page with `cursor` = the previous
    `next_cursor`; `next_cursor` is null on the last page."""
    query = AuditQuery(
        tenant_id=caller.tenant(),
        action=action or None,
        outcome=outcome,
        since=_utc(since),
        until=_utc(until),
        after_seq=_cursor(cursor),
        limit=limit,
    )
    rows, next_seq = await AuditLog(clients.engine).query(query)
    return {
        "records": [record_json(row) for row in rows],
        "next_cursor": None if next_seq is None else str(next_seq),
    }


@router.get("/verify")
async def verify_audit(caller: ReaderDep, clients: ClientsDep) -> dict[str, Any]:
    """Recompute the caller's tenant's hash chain: `intact`, the number of `records`, and
    `first_broken`, the first seq where the chain does not hold (null when intact)."""
    verdict = await AuditLog(clients.engine).verify(caller.tenant())
    return {"intact": verdict.intact, "records": verdict.count, "first_broken": verdict.first_broken}
