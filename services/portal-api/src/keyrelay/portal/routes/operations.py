"""Operations endpoints: liveness, readiness (every service and piece of infrastructure),
Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from keyrelay.common.errors import NotFound
from keyrelay.common.lifecycle import run_checks
from keyrelay.portal.deps import ClientsDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The portal process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(clients: ClientsDep) -> JSONResponse:
    """200 when every service and every piece of infrastructure is reachable, else 503."""
    checks = await run_checks(
        {
            "keyvault": clients.service_check("keyvault"),
            "router": clients.service_check("router"),
            "rag": clients.service_check("rag"),
            "vault": clients.check_vault,
            "nats": clients.check_nats,
            "database": clients.check_database,
        }
    )
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests and latencies by route template, upstream errors, spend.
    Open (no credentials): it carries no tenant ids, key ids or secrets."""
    registered = getattr(request.app.state, "metrics", None)
    if registered is None:
        raise NotFound("metrics are not enabled in this app")
    body, content_type = registered.render()
    return Response(body, media_type=content_type)
