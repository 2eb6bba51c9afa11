"""``/audit`` and ``/audit.csv``: administrators read and export the audit log.

Reading the log is not itself audited; every export is (``audit.exported``, with its filters).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from console_web.api.audit_schemas import AuditEventOut, AuditFilters, AuditPageOut, AuditQuery
from console_web.api.bodies import json_model, read_query
from console_web.api.context import client_ip, db_of, principal_of
from console_web.api.csv_export import Cell, csv_lines
from console_web.api.routing import endpoint
from console_web.db.audit_query import AuditRow, iter_rows, read_page
from console_web.db.clock import utcnow
from console_web.db.repo import audit

log = logging.getLogger(__name__)

EXPORT_CAP = 100_000
EXPORT_BATCH = 1000
CSV_HEADER: tuple[str, ...] = (
    "id",
    "at",
    "action",
    "actor_user_id",
    "actor_name",
    "actor_jumpoint_id",
    "source_address",
    "session_id",
    "detail",
)


def _out(row: AuditRow) -> AuditEventOut:
    return AuditEventOut(
        id=row.id,
        at=row.at,
        action=row.action,
        actor_user_id=row.actor_user_id,
        actor_name=row.actor_name,
        actor_jumpoint_id=row.actor_jumpoint_id,
        source_address=row.source_address,
        session_id=row.session_id,
        detail=row.detail,
    )


def csv_cells(row: AuditRow) -> tuple[Cell, ...]:
    """One event as the cells of a CSV row, in the order of :data:`CSV_HEADER`."""
    return (
        row.id,
        row.at.isoformat(),
        row.action,
        row.actor_user_id,
        row.actor_name,
        row.actor_jumpoint_id,
        row.source_address,
        row.session_id,
        json.dumps(row.detail, ensure_ascii=False, sort_keys=True),
    )


@endpoint(
    "GET",
    "/audit",
    access="admin",
    summary="Read the audit log",
    tag="audit",
    query=AuditQuery,
    response=AuditPageOut,
    description="Newest first; filter by action (exact, or a prefix ending in '.' or '*'), actor, session, time "
    "range and text; page with before_id = the previous page's next_before_id.",
)
async def list_audit(request: web.Request) -> web.StreamResponse:
    """One page of events matching the filters."""
    query = read_query(request, AuditQuery)
    page = await read_page(db_of(request), query.to_filter(query.before_id), query.limit)
    return json_model(AuditPageOut(items=[_out(r) for r in page.rows], next_before_id=page.next_before_id))


@endpoint(
    "GET",
    "/audit.csv",
    access="admin",
    summary="Export the audit log as CSV",
    tag="audit",
    query=AuditFilters,
    description=f"The same filters as GET /audit; newest first, at most {EXPORT_CAP} rows, streamed as "
    "text/csv (a header row; cells that could run as spreadsheet formulas start with a single quote). "
    "The export is audited as audit.exported.",
)
async def export_audit(request: web.Request) -> web.StreamResponse:
    """Stream matching events as an attachment, reading them in bounded batches."""
    principal = principal_of(request)
    query = read_query(request, AuditFilters)
    db = db_of(request)
    await audit(
        db,
        action="audit.exported",
        actor_user_id=principal.user_id,
        source_address=client_ip(request),
        detail={"format": "csv", "filters": query.model_dump(mode="json", exclude_none=True)},
    )
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="openjump-audit-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(csv_lines([CSV_HEADER]).encode())
    batch: list[tuple[Cell, ...]] = []
    count = 0
    async for row in iter_rows(db, query.to_filter(), cap=EXPORT_CAP, batch=EXPORT_BATCH):
        batch.append(csv_cells(row))
        count += 1
        if len(batch) >= EXPORT_BATCH:
            await response.write(csv_lines(batch).encode())
            batch.clear()
    if batch:
        await response.write(csv_lines(batch).encode())
    await response.write_eof()
    log.info("audit log exported by %s: %d rows", principal.username, count)
    return response
