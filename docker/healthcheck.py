"""Docker health check of a keyrelay service: `python healthcheck.py <identity>`.

- keyvault, router, rag: the standard gRPC health check (grpc.health.v1) over mutual TLS,
  on 127.0.0.1 and the port of the service's own `KEYRELAY_<ID>_LISTEN`. The service's own
  certificate is presented (health is open to any certificate of the platform CA). Healthy
  means SERVING, which each service reports only while its dependencies (Vault, Postgres)
  pass their checks.
- portal: `GET /readyz` on the portal's port, 200 when every service and every piece of
  infrastructure is reachable.

Exit status 0 when healthy, 1 otherwise, with the reason on stderr (`docker inspect` shows it).
"""

from __future__ import annotations

import importlib
import sys
import urllib.error
import urllib.request

TIMEOUT = 3.0

# identity -> (settings module, settings class); the listen field is `<identity>_listen`.
SETTINGS = {
    "keyvault": ("keyrelay.keyvault.config", "KeyvaultSettings"),
    "router": ("keyrelay.router.config", "RouterSettings"),
    "rag": ("keyrelay.rag.config", "RagSettings"),
    "portal": ("keyrelay.portal.config", "PortalSettings"),
}


def check_grpc(identity: str) -> str | None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from keyrelay.common.rpc import channel_credentials

    module, cls = SETTINGS[identity]
    settings = getattr(importlib.import_module(module), cls)()
    port = getattr(settings, f"{identity}_listen").rsplit(":", 1)[1]
    target = f"127.0.0.1:{port}"
    with grpc.secure_channel(target, channel_credentials(settings.tls_path, identity)) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT
            )
        except grpc.RpcError as err:
            return f"{identity} on {target}: {err.code().name} {err.details()}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{identity} on {target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None


def check_portal() -> str | None:
    from keyrelay.portal.config import PortalSettings

    url = f"http://127.0.0.1:{PortalSettings().portal_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT):  # noqa: S310 - fixed http URL
            return None
    except urllib.error.HTTPError as err:  # 503 with the failing checks in the body
        return f"{url}: {err.code} {err.read().decode(errors='replace')[:500]}"
    except OSError as err:
        return f"{url}: {err}"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in SETTINGS:
        print(f"usage: healthcheck.py {{{','.join(SETTINGS)}}}", file=sys.stderr)
        return 1  # Docker reserves exit status 2 in health checks
    problem = check_portal() if argv[0] == "portal" else check_grpc(argv[0])
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
