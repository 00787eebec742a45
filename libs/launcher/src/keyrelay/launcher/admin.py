"""The admin subcommands of `keyrelay` (tenants, access keys, provider keys, settings, chat,
audit): a small synchronous client over portal-api's HTTP API (SPEC §7).

Secrets stay out of what is printed: the bearer token and every provider key value the
command sends are redacted from any output or error message; the only secret ever printed
is a newly issued `kr_...` access key, once, with a warning.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

DEFAULT_PORTAL = "http://127.0.0.1:8001"
DEFAULT_DATA_DIR = ".keyrelay"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
REDACTED = "***"


class UsageError(Exception):
    """A command given wrongly (exit 2)."""


class ApiError(Exception):
    """The portal refused, or could not be reached (exit 1)."""

    def __init__(self, message: str, status: int | None = None, type_: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type_


# -- options --------------------------------------------------------------------------------


def resolve_token(token: str | None, data_dir: str | None) -> str:
    """`--token`, else `KEYRELAY_TOKEN`, else `KEYRELAY_ADMIN_TOKEN`, else `<data-dir>/admin-token`."""
    for candidate in (token, os.environ.get("KEYRELAY_TOKEN"), os.environ.get("KEYRELAY_ADMIN_TOKEN")):
        if candidate and candidate.strip():
            return candidate.strip()
    path = Path(data_dir or DEFAULT_DATA_DIR) / "admin-token"
    try:
        found = path.read_text().strip()
    except OSError:
        found = ""
    if not found:
        raise UsageError(
            f"no token: pass --token, set KEYRELAY_TOKEN or KEYRELAY_ADMIN_TOKEN, or point --data-dir "
            f"at the directory holding admin-token (looked for {path})"
        )
    return found


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# -- the client -----------------------------------------------------------------------------


class Portal:
    """One portal, one caller. Every answer is JSON; an error answer raises `ApiError` with
    the portal's `error.message`."""

    def __init__(self, url: str, token: str, tenant: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.secrets: list[str] = [token]
        headers = {"Authorization": f"Bearer {token}", "User-Agent": "keyrelay-cli"}
        if tenant:
            headers["X-Tenant-ID"] = tenant
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            reply = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise ApiError(f"cannot reach the portal at {self.url}: {err}") from None
        if reply.status_code >= 400:
            raise self.error(reply.status_code, reply.read())
        try:
            return reply.json()
        except ValueError:
            raise ApiError(f"the portal answered {reply.status_code} with a body that is not JSON") from None

    def error(self, status: int, body: bytes) -> ApiError:
        try:
            error = json.loads(body)["error"]
            message, type_ = str(error["message"]), str(error.get("type") or "")
        except (ValueError, KeyError, TypeError):
            message, type_ = f"HTTP {status}", ""
        return ApiError(self.redact(message), status, type_ or None)

    def stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The server-sent events of a streaming answer, decoded; an `error` event raises."""
        try:
            with self.http.stream("POST", path, json=body) as reply:
                if reply.status_code >= 400:
                    raise self.error(reply.status_code, reply.read())
                for line in reply.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    event = json.loads(data)
                    if isinstance(event, dict) and "error" in event:
                        raise ApiError(self.redact(str(event["error"].get("message", "stream failed"))))
                    yield event
        except httpx.HTTPError as err:
            raise ApiError(f"cannot reach the portal at {self.url}: {err}") from None


# -- printing -------------------------------------------------------------------------------


class Printer:
    def __init__(self, portal: Portal, as_json: bool, out: TextIO | None = None) -> None:
        self.portal = portal
        self.as_json = as_json
        self.out = out or sys.stdout

    def line(self, text: str = "", end: str = "\n") -> None:
        self.out.write(self.portal.redact(text) + end)
        self.out.flush()

    def json(self, data: Any) -> None:
        self.line(json.dumps(data, indent=2, sort_keys=False))

    def table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
        cells = [[_cell(v) for v in row] for row in rows]
        widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
        self.line("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        for row in cells:
            self.line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        width = max(len(k) for k, _ in pairs) + 1
        for key, value in pairs:
            self.line(f"{(key + ':').ljust(width)} {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _warn(text: str) -> None:
    print(f"keyrelay: {text}", file=sys.stderr, flush=True)


# -- commands -------------------------------------------------------------------------------


def tenants_create(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    out = portal.request("POST", "/v1/admin/tenants", json={"tenant_id": args.tenant_id, "name": args.name})
    if p.as_json:
        p.json(out)
    else:
        p.line(f"tenant {out['tenant_id']} created ({out['name']})")
    return 0


def tenants_list(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    params = {"include_deleted": "true"} if args.include_deleted else {}
    out = portal.request("GET", "/v1/admin/tenants", params=params)
    if p.as_json:
        p.json(out)
    else:
        rows = [(t["tenant_id"], t["name"], t["status"], t["created_at"]) for t in out["tenants"]]
        p.table(rows, ("tenant_id", "name", "status", "created_at"))
    return 0


def tenants_delete(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    out = portal.request("DELETE", f"/v1/admin/tenants/{args.tenant_id}")
    if p.as_json:
        p.json(out)
    else:
        p.line(
            f"tenant {out['tenant_id']} deleted: {out['keys_deleted']} provider key(s) crypto-shredded, "
            f"{out['access_keys_revoked']} access key(s) revoked"
        )
    return 0


def access_keys_issue(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name, "role": args.role}
    if args.rate_limit is not None:
        body["rate_limit"] = args.rate_limit
    if args.expires_in_days is not None:
        body["expires_in_days"] = args.expires_in_days
    out = portal.request("POST", f"/v1/admin/tenants/{args.tenant_id}/access-keys", json=body)
    _warn("this access key is shown once and cannot be retrieved again; store it now")
    if p.as_json:
        p.out.write(json.dumps(out, indent=2) + "\n")  # the one secret the CLI prints, on purpose
    else:
        p.fields(
            [
                ("key_id", out["key_id"]),
                ("tenant", out["tenant_id"]),
                ("role", out["role"]),
                ("expires_at", out["expires_at"] or "never"),
            ]
        )
        p.out.write(f"key:        {out['key']}\n")
    p.out.flush()
    return 0


def _secret_value(args: argparse.Namespace, portal: Portal) -> str:
    """The provider key's value: `--value`, else stdin (a prompt without echo on a terminal)."""
    if args.value is not None:
        _warn("--value may be kept in your shell history; prefer --value-stdin")
        value = args.value
    elif sys.stdin is not None and sys.stdin.isatty():
        value = getpass.getpass("key value (not echoed): ")
    else:
        value = sys.stdin.read() if sys.stdin is not None else ""
    value = value.strip()
    if not value:
        raise UsageError("no key value: give it on stdin (--value-stdin) or with --value")
    portal.secrets.append(value)
    return value


def _validation_lines(p: Printer, validation: dict[str, Any]) -> None:
    p.line(
        f"validation: {'valid' if validation.get('is_valid') else 'INVALID'}, "
        f"strength {validation.get('strength_score')}/100"
    )
    for issue in validation.get("issues") or []:
        p.line(f"  issue: {issue}")
    for tip in validation.get("recommendations") or []:
        p.line(f"  recommendation: {tip}")


def keys_put(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"service_id": args.service_id, "key_value": _secret_value(args, portal)}
    if args.key_type:
        body["key_type"] = args.key_type
    if args.name:
        body["name"] = args.name
    if args.rate_limit is not None:
        body["rate_limit"] = args.rate_limit
    if args.expires_in_days is not None:
        body["expires_in_days"] = args.expires_in_days
    out = portal.request("POST", "/api/brain/tenant/api-keys", json=body)
    if p.as_json:
        p.json(out)
        return 0
    verb = "stored" if out.get("created") else f"stored as version {out.get('version')}"
    p.line(f"{out['service_id']}/{out['key_type']} {verb}: {out['key_id']} {out['masked_value']}")
    _validation_lines(p, out.get("validation") or {})
    return 0


def keys_list(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    params: dict[str, str] = {}
    if args.service:
        params["service_id"] = args.service
    if args.include_revoked:
        params["include_revoked"] = "true"
    out = portal.request("GET", "/api/brain/tenant/api-keys", params=params)
    if p.as_json:
        p.json(out)
    else:
        rows = [
            (k["key_id"], k["service_id"], k["key_type"], k["name"] or "-", k["masked_value"], k["status"])
            + (k["version"], k["last_used_at"])
            for k in out["keys"]
        ]
        p.table(rows, ("key_id", "service", "key_type", "name", "masked_value", "status", "ver", "last_used"))
    return 0


def keys_rotate(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"new_key_value": _secret_value(args, portal)}
    if args.grace_period_seconds is not None:
        body["grace_period_seconds"] = args.grace_period_seconds
    out = portal.request("POST", f"/api/brain/tenant/api-keys/{args.key_id}/rotate", json=body)
    if p.as_json:
        p.json(out)
        return 0
    p.line(f"{out['key_id']} rotated to version {out['version']}: {out['masked_value']}")
    if out.get("previous_version_expires_at"):
        p.line(f"version {out['previous_version']} still works until {out['previous_version_expires_at']}")
    _validation_lines(p, (out.get("key") or {}).get("validation") or {})
    return 0


def keys_delete(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    out = portal.request("DELETE", f"/api/brain/tenant/api-keys/{args.key_id}")
    if p.as_json:
        p.json(out)
    else:
        p.line(f"{out['key_id']} ({out['service_id']}/{out['key_type']}) revoked")
    return 0


SETTINGS_FIELDS = (
    "budget_tier",
    "preferred_providers",
    "fallback_providers",
    "max_monthly_cost",
    "on_budget_exceeded",
    "allow_platform_fallback",
    "region",
    "tokens_per_minute",
    "updated_at",
)


def _settings_out(p: Printer, out: dict[str, Any]) -> None:
    if p.as_json:
        p.json(out)
    else:
        p.fields([("tenant_id", out.get("tenant_id"))] + [(f, out.get(f)) for f in SETTINGS_FIELDS])


def settings_get(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    _settings_out(p, portal.request("GET", "/api/brain/tenant/settings"))
    return 0


def settings_set(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    body = {
        field: getattr(args, field)
        for field in (
            "budget_tier",
            "max_monthly_cost",
            "preferred_providers",
            "fallback_providers",
            "on_budget_exceeded",
            "allow_platform_fallback",
            "region",
        )
        if getattr(args, field) is not None
    }
    if not body:
        raise UsageError("settings set: give at least one setting (see keyrelay settings set --help)")
    _settings_out(p, portal.request("PUT", "/api/brain/tenant/settings", json=body))
    return 0


def chat(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    messages = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": args.message})
    body: dict[str, Any] = {"model": args.model, "messages": messages}
    if args.max_tokens is not None:
        body["max_tokens"] = args.max_tokens
    if not args.stream:
        out = portal.request("POST", "/v1/chat/completions", json=body)
        if p.as_json:
            p.json(out)
        else:
            p.line(out["choices"][0]["message"]["content"] or "")
            _route_note(out.get("keyrelay"), out.get("model"))
        return 0
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    ext: dict[str, Any] | None = None
    model = None
    for event in portal.stream("/v1/chat/completions", body):
        if p.as_json:
            p.line(json.dumps(event, separators=(",", ":")))
            continue
        model = event.get("model") or model
        ext = event.get("keyrelay") or ext
        for choice in event.get("choices") or []:
            delta = (choice.get("delta") or {}).get("content")
            if delta:
                p.line(delta, end="")
    if not p.as_json:
        p.line()
        _route_note(ext, model)
    return 0


def _route_note(ext: Any, model: Any) -> None:
    """Which model answered and what it cost, on stderr (stdout is the answer only)."""
    if not isinstance(ext, dict):
        return
    route = ext.get("route") or {}
    cost = ext.get("cost_usd")
    provider = route.get("provider") if isinstance(route, dict) else None
    parts = [str(model or "")] + ([f"via {provider}"] if provider else [])
    if isinstance(cost, int | float):
        parts.append(f"${cost:.6f}")
    print(f"[{' '.join(x for x in parts if x)}]", file=sys.stderr, flush=True)


def _tenant_id(portal: Portal, args: argparse.Namespace) -> str:
    """`--tenant`, else the caller's own tenant (an access key's, as its settings name it)."""
    if getattr(args, "tenant", None):
        return str(args.tenant)
    return str(portal.request("GET", "/api/brain/tenant/settings")["tenant_id"])


def usage(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    for name in ("since", "until", "cursor"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    out = portal.request("GET", f"/api/brain/openrouter/usage/{_tenant_id(portal, args)}", params=params)
    if p.as_json:
        p.json(out)
        return 0
    rows = [
        (
            r["created_at"],
            r["model"],
            r["key_source"],
            (r.get("usage") or {}).get("prompt_tokens"),
            (r.get("usage") or {}).get("completion_tokens"),
            f"{r['cost_usd']:.6f}",
            round(r["latency_ms"]),
            "ok" if r["success"] else r.get("error_type") or "error",
        )
        for r in out["records"]
    ]
    p.table(rows, ("time", "model", "key", "prompt_tok", "compl_tok", "cost_usd", "ms", "result"))
    if out.get("next_cursor"):
        p.line(f"more: --cursor {out['next_cursor']}")
    return 0


def audit_list(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    for name in ("action", "outcome", "since", "until", "cursor"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    out = portal.request("GET", "/v1/audit", params=params)
    if p.as_json:
        p.json(out)
        return 0
    rows = [
        (
            r["seq"],
            r["time"],
            r["action"],
            r["outcome"],
            f"{r['actor']['kind']}:{r['actor']['id']}" if r.get("actor") else "-",
            r.get("resource"),
            r.get("reason") or "-",
        )
        for r in out["records"]
    ]
    p.table(rows, ("seq", "time", "action", "outcome", "actor", "resource", "reason"))
    if out.get("next_cursor"):
        p.line(f"more: --cursor {out['next_cursor']}")
    return 0


def audit_verify(portal: Portal, p: Printer, args: argparse.Namespace) -> int:
    out = portal.request("GET", "/v1/audit/verify")
    if p.as_json:
        p.json(out)
    elif out["intact"]:
        p.line(f"audit chain intact ({out['records']} records)")
    else:
        p.line(f"audit chain BROKEN at seq {out['first_broken']} ({out['records']} records)")
    return 0 if out["intact"] else 1


# -- the parser -----------------------------------------------------------------------------


def common_options() -> argparse.ArgumentParser:
    """The options every admin subcommand takes, before or after its name."""
    parent = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = parent.add_argument_group("portal options")
    group.add_argument(
        "--portal",
        metavar="URL",
        help=f"portal base URL (default $KEYRELAY_PORTAL_URL or {DEFAULT_PORTAL})",
    )
    group.add_argument(
        "--token",
        metavar="TOKEN",
        help="bearer token: the admin token or a kr_ access key (default $KEYRELAY_TOKEN, "
        "$KEYRELAY_ADMIN_TOKEN, or <data-dir>/admin-token); prefer the environment over this flag",
    )
    group.add_argument(
        "--data-dir", metavar="DIR", help=f"where admin-token is found (default ./{DEFAULT_DATA_DIR})"
    )
    group.add_argument("--tenant", metavar="TENANT_ID", help="act for this tenant (sent as X-Tenant-ID)")
    group.add_argument("--json", action="store_true", help="print the portal's raw JSON")
    return parent


def add_admin_commands(sub: Any) -> None:
    """The admin subcommands, added to `keyrelay`'s subparsers."""
    common = common_options()

    def leaf(parent: Any, name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, help=help_, parents=[common])
        parser.set_defaults(func=run(func))
        return parser

    def group(name: str, help_: str) -> Any:
        parser = sub.add_parser(name, help=help_)
        return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")

    tenants = group("tenants", "platform admin: create, list and delete tenants")
    p = leaf(tenants, "create", tenants_create, "register a tenant")
    p.add_argument("tenant_id", metavar="ID")
    p.add_argument("--name", required=True)
    p = leaf(tenants, "list", tenants_list, "list tenants")
    p.add_argument("--include-deleted", action="store_true")
    p = leaf(tenants, "delete", tenants_delete, "delete a tenant (crypto-shreds its keys)")
    p.add_argument("tenant_id", metavar="ID")

    access = group("access-keys", "platform admin: issue kr_ access keys for a tenant")
    p = leaf(access, "issue", access_keys_issue, "issue an access key (its value is shown once)")
    p.add_argument("tenant_id", metavar="TENANT")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=("read_only", "full_access", "admin"))
    p.add_argument("--rate-limit", type=int, metavar="N", help="requests per minute (0: no limit)")
    p.add_argument("--expires-in-days", type=int, metavar="N")

    keys = group("keys", "the tenant's provider keys (BYOK)")
    p = leaf(keys, "put", keys_put, "store a provider key, or a new version of it")
    p.add_argument("service_id", metavar="SERVICE", help="e.g. openai, anthropic")
    _value_options(p)
    p.add_argument("--key-type", metavar="T", help="production (default), development, ...")
    p.add_argument("--name", metavar="N")
    p.add_argument("--rate-limit", type=int, metavar="N")
    p.add_argument("--expires-in-days", type=int, metavar="N")
    p = leaf(keys, "list", keys_list, "list provider keys (masked)")
    p.add_argument("--service", metavar="SERVICE")
    p.add_argument("--include-revoked", action="store_true")
    p = leaf(keys, "rotate", keys_rotate, "rotate a provider key to a new value")
    p.add_argument("key_id", metavar="KEY_ID")
    _value_options(p)
    p.add_argument("--grace-period-seconds", type=int, metavar="N", help="keep the old version this long")
    p = leaf(keys, "delete", keys_delete, "revoke a provider key")
    p.add_argument("key_id", metavar="KEY_ID")

    settings = group("settings", "the tenant's routing and budget settings")
    leaf(settings, "get", settings_get, "show the settings")
    p = leaf(settings, "set", settings_set, "change settings (those not given are kept)")
    p.add_argument("--budget-tier", metavar="T", help="LOW, MEDIUM, HIGH, ...")
    p.add_argument("--max-monthly-cost", type=float, metavar="USD")
    p.add_argument("--preferred", dest="preferred_providers", type=_csv, metavar="P,..")
    p.add_argument("--fallback", dest="fallback_providers", type=_csv, metavar="P,..")
    p.add_argument("--on-budget-exceeded", choices=("reject", "downgrade"))
    p.add_argument("--allow-platform-fallback", type=_flag, metavar="true|false")
    p.add_argument("--region", metavar="R")

    p = leaf(sub, "chat", chat, "one chat completion through /v1/chat/completions")
    p.add_argument("message")
    p.add_argument("--model", default="auto", help="provider/model, or auto (default)")
    p.add_argument("--system", metavar="TEXT", help="a system message first")
    p.add_argument("--max-tokens", type=int, metavar="N")
    p.add_argument("--stream", action="store_true", help="print the answer as it arrives")

    p = leaf(sub, "usage", usage, "the tenant's usage ledger (newest first), cost per call")
    p.add_argument("--since", metavar="ISO8601", help="default: 30 days before --until")
    p.add_argument("--until", metavar="ISO8601", help="exclusive; default now")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="default 50")
    p.add_argument("--cursor", metavar="C", help="the next page, as printed after the previous one")

    p = leaf(sub, "audit", audit_list, "the tenant's audit trail; 'audit verify' checks its hash chain")
    p.add_argument("--action", metavar="A", help="e.g. key.created, or key for all key.* actions")
    p.add_argument("--outcome", choices=("success", "denied", "error"))
    p.add_argument("--since", metavar="RFC3339")
    p.add_argument("--until", metavar="RFC3339")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="default 50, at most 500")
    p.add_argument("--cursor", metavar="C", help="the next page, as printed after the previous one")
    verify = p.add_subparsers(dest="audit_command", metavar="[verify]")
    leaf(verify, "verify", audit_verify, "recompute the audit hash chain")


def _value_options(parser: argparse.ArgumentParser) -> None:
    value = parser.add_mutually_exclusive_group()
    value.add_argument(
        "--value-stdin",
        action="store_true",
        help="read the key from stdin (the default; prompts without echo on a terminal)",
    )
    value.add_argument("--value", metavar="V", help="the key itself (lands in shell history: avoid)")


def run(func: Any) -> Any:
    """The command as `keyrelay` calls it: options resolved, errors to exit codes."""

    def command(args: argparse.Namespace) -> int:
        portal: Portal | None = None
        try:
            token = resolve_token(getattr(args, "token", None), getattr(args, "data_dir", None))
            url = getattr(args, "portal", None) or os.environ.get("KEYRELAY_PORTAL_URL") or DEFAULT_PORTAL
            portal = Portal(url, token, getattr(args, "tenant", None))
            return int(func(portal, Printer(portal, bool(getattr(args, "json", False))), args))
        except UsageError as err:
            _warn(str(err))
            return 2
        except ApiError as err:
            status = f" ({err.status}{' ' + err.type if err.type else ''})" if err.status else ""
            _warn(f"error{status}: {err.message}")
            return 1
        except KeyboardInterrupt:
            return 130
        finally:
            if portal is not None:
                portal.close()

    return command
