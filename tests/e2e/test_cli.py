"""The `keyrelay` admin subcommands against the real stack, run as an operator would: a
subprocess per command, the admin token found in the data dir, a tenant's access key as
`--token`, provider keys given on stdin. No secret but the newly issued access key ever
appears in the CLI's output."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

import pytest

from tests.e2e.harness import RunningStack

pytestmark = pytest.mark.e2e

TENANT = "cli-a"
MODEL = "openai/gpt-4o-mini"


def cli(
    stack: RunningStack, *args: str, token: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`keyrelay ARGS` against the test stack; without `token`, the admin token is read from
    `<data-dir>/admin-token` (the environment must not offer another one)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KEYRELAY_TOKEN", "KEYRELAY_ADMIN_TOKEN")}
    command = [sys.executable, "-m", "keyrelay.launcher.cli", "--portal", stack.portal_url]
    command += ["--data-dir", str(stack.data_dir)]
    if token is not None:
        env["KEYRELAY_TOKEN"] = token
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_admin_commands_drive_the_portal(stack: RunningStack) -> None:
    admin_token = (stack.data_dir / "admin-token").read_text().strip()
    every_output: list[str] = []

    def run(*args: str, **kwargs: str | None) -> subprocess.CompletedProcess[str]:
        result = cli(stack, *args, **kwargs)
        every_output.extend((result.stdout, result.stderr))
        return result

    out = ok(run("tenants", "create", TENANT, "--name", "CLI tenant"))
    assert f"tenant {TENANT} created" in out
    assert TENANT in ok(run("tenants", "list"))
    listed = json.loads(ok(run("tenants", "list", "--json")))
    assert TENANT in {t["tenant_id"] for t in listed["tenants"]}

    again = run("tenants", "create", TENANT, "--name", "again")
    assert again.returncode == 1 and "already exists" in again.stderr

    issued = run("access-keys", "issue", TENANT, "--name", "cli", "--role", "admin", "--json")
    access_key = json.loads(ok(issued))["key"]
    assert access_key.startswith("kr_") and "shown once" in issued.stderr
    human = run("access-keys", "issue", TENANT, "--name", "cli2", "--role", "read_only")
    reader_key = ok(human).split("key:", 1)[1].split()[0]
    assert reader_key.startswith("kr_") and "role:" in human.stdout

    value = "sk-" + secrets.token_hex(24)
    put = ok(
        run("keys", "put", "openai", "--value-stdin", "--name", "main", token=access_key, stdin=value + "\n")
    )
    masked = value[:4] + "..." + value[-4:]
    assert masked in put and "validation: valid" in put

    keys = ok(run("keys", "list", token=access_key))
    assert masked in keys and "openai" in keys and "main" in keys
    key_id = json.loads(ok(run("keys", "list", "--json", token=reader_key)))["keys"][0]["key_id"]
    assert key_id in keys
    # The platform admin reads the same tenant with --tenant (X-Tenant-ID).
    assert masked in ok(run("--tenant", TENANT, "keys", "list"))

    # A read-only key may not store keys: the portal's message, exit 1.
    refused = run("keys", "put", "openai", token=reader_key, stdin="sk-" + secrets.token_hex(24))
    assert refused.returncode == 1 and "error (403" in refused.stderr

    ok(
        run(
            "settings",
            "set",
            "--budget-tier",
            "medium",
            "--max-monthly-cost",
            "12.5",
            "--preferred",
            "anthropic,openai",
            "--allow-platform-fallback",
            "false",
            token=access_key,
        )
    )
    got = json.loads(ok(run("settings", "get", "--json", token=access_key)))
    assert got["budget_tier"] == "MEDIUM" and got["max_monthly_cost"] == 12.5
    assert got["preferred_providers"] == ["anthropic", "openai"] and got["allow_platform_fallback"] is False
    human_settings = ok(run("settings", "get", token=reader_key))
    assert "MEDIUM" in human_settings and "anthropic,openai" in human_settings
    assert run("settings", "set", token=access_key).returncode == 2
    assert run("settings", "set", "--allow-platform-fallback", "maybe", token=access_key).returncode == 2

    # Audit records reach Postgres through the projector: wait for key.created.
    deadline = time.monotonic() + 30
    while True:
        audit = run("audit", "--action", "key.created", token=access_key)
        if "key.created" in ok(audit) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "key.created" in audit.stdout
    assert "intact" in ok(run("audit", "verify", token=access_key))

    # Chat through the tenant's own key, plain and streamed; the calls reach the usage ledger.
    answer = run("chat", "Say hello", "--model", MODEL, token=access_key)
    assert ok(answer).strip() and MODEL in answer.stderr
    streamed = run("chat", "Say hello", "--model", MODEL, "--stream", token=access_key)
    assert ok(streamed).strip() and MODEL in streamed.stderr
    events = [
        json.loads(x)
        for x in ok(run("chat", "hi", "--model", MODEL, "--stream", "--json", token=access_key)).splitlines()
    ]
    assert any(e.get("choices") and e["choices"][0]["delta"].get("content") for e in events)
    deadline = time.monotonic() + 30
    while True:
        ledger = json.loads(ok(run("usage", "--json", token=reader_key)))
        if ledger["count"] >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ledger["tenant_id"] == TENANT and ledger["count"] >= 3
    assert {r["model"] for r in ledger["records"]} == {MODEL}
    table = ok(run("--tenant", TENANT, "usage", "--limit", "2"))
    assert MODEL in table and "more: --cursor" in table

    rotated_value = "sk-" + secrets.token_hex(24)
    rotated = ok(run("keys", "rotate", key_id, "--value-stdin", token=access_key, stdin=rotated_value))
    assert "rotated to version" in rotated and rotated_value[-4:] in rotated
    assert "revoked" in ok(run("keys", "delete", key_id, token=access_key))
    assert key_id not in ok(run("keys", "list", token=access_key))

    bad_token = "kr_" + secrets.token_hex(16)
    bad = run("keys", "list", token=bad_token)
    assert bad.returncode == 1 and "error (401" in bad.stderr and bad_token not in bad.stderr + bad.stdout

    for text in every_output:
        for secret in (value, rotated_value, admin_token):
            assert secret not in text
