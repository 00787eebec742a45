"""The one domain error hierarchy of keyrelay.

Each class carries its gRPC status code, its HTTP status and a stable `type` string. Domain
code raises these; one gRPC interceptor (`keyrelay.common.grpc`) and one FastAPI handler
(`keyrelay.common.http_errors`) turn them into responses, and `from_rpc_error` turns a
gRPC failure back into the same class on the client side. Messages are shown to callers:
they say what was wrong and what to do, and never contain a secret.
"""

from __future__ import annotations

import grpc

# Trailing-metadata key carrying the error type across gRPC, so a client rebuilds the
# exact class (several classes share a gRPC code, e.g. BudgetExceeded and RateLimited).
ERROR_TYPE_METADATA = "keyrelay-error-type"
RETRY_AFTER_METADATA = "keyrelay-retry-after"


class KeyrelayError(Exception):
    """Base of every error a caller may see."""

    type: str = "internal_error"
    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    http_status: int = 500

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidArgument(KeyrelayError):
    type = "invalid_request"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class Unauthenticated(KeyrelayError):
    type = "unauthenticated"
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401


class PermissionDenied(KeyrelayError):
    type = "permission_denied"
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403


class NotFound(KeyrelayError):
    type = "not_found"
    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class Conflict(KeyrelayError):
    type = "conflict"
    grpc_code = grpc.StatusCode.ABORTED
    http_status = 409


class AlreadyExists(Conflict):
    type = "already_exists"
    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class RateLimited(KeyrelayError):
    type = "rate_limited"
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429


class BudgetExceeded(KeyrelayError):
    type = "budget_exceeded"
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 402


class UpstreamError(KeyrelayError):
    """A provider or other upstream failed; the message names it."""

    type = "upstream_error"
    grpc_code = grpc.StatusCode.UNKNOWN
    http_status = 502


class Unavailable(KeyrelayError):
    """A dependency (Vault, NATS, Postgres, a service) cannot be reached right now."""

    type = "unavailable"
    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class DeadlineExceeded(KeyrelayError):
    type = "timeout"
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 504


class InternalError(KeyrelayError):
    """A bug. The message is generic; details go to the log only."""


def _all_subclasses(cls: type[KeyrelayError]) -> list[type[KeyrelayError]]:
    found: list[type[KeyrelayError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def error_class_for_type(type_: str) -> type[KeyrelayError] | None:
    for cls in [KeyrelayError, *_all_subclasses(KeyrelayError)]:
        if cls.type == type_:
            return cls
    return None


_BY_GRPC_CODE: dict[grpc.StatusCode, type[KeyrelayError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNKNOWN: UpstreamError,
}


def from_rpc_error(err: grpc.RpcError) -> KeyrelayError:
    """Rebuild the domain error a remote keyrelay service raised.

    The error type travels in trailing metadata; without it (a transport failure, a
    non-keyrelay server) the status code decides.
    """
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = (err.details() if hasattr(err, "details") else None) or str(code)
    trailers = dict(err.trailing_metadata() or ()) if hasattr(err, "trailing_metadata") else {}
    cls = error_class_for_type(str(trailers.get(ERROR_TYPE_METADATA, ""))) or _BY_GRPC_CODE.get(
        code, InternalError
    )
    retry_after = trailers.get(RETRY_AFTER_METADATA)
    return cls(details, retry_after=int(retry_after) if retry_after else None)
