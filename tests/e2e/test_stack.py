"""The whole embedded stack: start, health everywhere, stop, start again with nothing lost."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import time
from pathlib import Path

import grpc
import httpx
import hvac
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keyrelay.common.rpc import secure_channel
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc
from tests.e2e.harness import RunningStack

pytestmark = pytest.mark.e2e


async def _grpc_health(stack: RunningStack, service: str) -> int:
    async with secure_channel(stack.grpc_addr(service), stack.tls_dir, "launcher") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return reply.status


def _approle_client(stack: RunningStack) -> hvac.Client:
    """Vault as keyvault-svc sees it: the AppRole the launcher provisioned."""
    approle = stack.data_dir / "bao" / "approle"
    client = hvac.Client(url=stack.vault_addr, verify=str(stack.tls_dir / "ca.pem"))
    client.auth.approle.login(
        role_id=(approle / "role-id").read_text(), secret_id=(approle / "secret-id").read_text()
    )
    return client


def _ports_free(stack: RunningStack) -> bool:
    ports = [
        stack.portal_port,
        *range(stack.grpc_base_port, stack.grpc_base_port + 3),
        *range(stack.infra_base_port, stack.infra_base_port + 4),
    ]
    for port in ports:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return False
    return True


async def test_stack_starts_stops_and_restarts_with_vault_data_kept(data_dir: Path) -> None:
    stack = RunningStack(data_dir)
    with stack:
        ready = httpx.get(f"{stack.portal_url}/readyz").json()
        assert ready["status"] == "ready"
        assert set(ready["checks"]) == {"keyvault", "router", "rag", "vault", "nats", "database"}
        for service in ("keyvault", "router", "rag"):
            assert await _grpc_health(stack, service) == health_pb2.HealthCheckResponse.SERVING
        alive = httpx.get(f"{stack.portal_url}/healthz", headers={"X-Request-ID": "e2e-req-1"})
        assert alive.status_code == 200
        assert alive.headers["x-request-id"] == "e2e-req-1"
        assert alive.headers["x-content-type-options"] == "nosniff"
        assert len(httpx.get(f"{stack.portal_url}/readyz").headers["x-request-id"]) == 32

        # Secrets files the launcher keeps are private to the operator.
        for private in ("admin-token", "bao/init.json", "bao/approle/secret-id", "tls/ca-key.pem"):
            assert (stack.data_dir / private).stat().st_mode & 0o077 == 0, private

        vault = _approle_client(stack)
        vault.secrets.kv.v2.create_or_update_secret(
            "e2e/restart-check", secret={"value": "kept-across-restarts"}, cas=0, mount_point="keyrelay"
        )
        # Least privilege: the AppRole cannot touch Vault's configuration.
        with pytest.raises(hvac.exceptions.Forbidden):
            vault.sys.list_mounted_secrets_engines()
    assert stack.proc is not None and stack.proc.returncode == 0, stack.output()
    assert "keyrelay stopped" in stack.output()
    assert _ports_free(stack), "a process of the stack outlived the launcher"

    init_before = json.loads((stack.data_dir / "bao" / "init.json").read_text())
    with stack:  # same data dir, same ports: only unseal this time
        assert json.loads((stack.data_dir / "bao" / "init.json").read_text()) == init_before
        ca = ssl.create_default_context(cafile=stack.tls_dir / "ca.pem")
        health = httpx.get(f"{stack.vault_addr}/v1/sys/health", verify=ca)
        assert health.status_code == 200 and health.json()["sealed"] is False
        secret = _approle_client(stack).secrets.kv.v2.read_secret_version(
            "e2e/restart-check", mount_point="keyrelay", raise_on_deleted_version=True
        )
        assert secret["data"]["data"] == {"value": "kept-across-restarts"}
    assert stack.proc.returncode == 0, stack.output()


async def test_keyvault_allow_list_and_mtls_on_the_running_stack(data_dir: Path) -> None:
    with RunningStack(data_dir) as stack:
        address = stack.grpc_addr("keyvault")
        request = keyvault_pb2.ResolveKeyRequest(tenant_id="acme", service_id="openai")
        acting_for_acme = (("x-keyrelay-tenant", "acme"),)

        # ResolveKey is for the router only: the portal's certificate is refused.
        async with secure_channel(address, stack.tls_dir, "portal") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                stub = keyvault_pb2_grpc.KeyVaultStub(channel)
                await stub.ResolveKey(request, metadata=acting_for_acme, timeout=5)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "may not call" in denied.value.details()

        # The router's certificate passes the allow-list and reaches the servicer, which
        # finds no key for this tenant.
        async with secure_channel(address, stack.tls_dir, "router") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as reached:
                stub = keyvault_pb2_grpc.KeyVaultStub(channel)
                await stub.ResolveKey(request, metadata=acting_for_acme, timeout=5)
        assert reached.value.code() == grpc.StatusCode.NOT_FOUND

        # No client certificate: the TLS handshake itself fails.
        creds = grpc.ssl_channel_credentials(root_certificates=(stack.tls_dir / "ca.pem").read_bytes())
        async with grpc.aio.secure_channel(address, creds) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await keyvault_pb2_grpc.KeyVaultStub(channel).Health(keyvault_pb2.HealthRequest(), timeout=5)
        assert anonymous.value.code() == grpc.StatusCode.UNAVAILABLE

        # The vault health RPC reports the real state to an allowed caller.
        async with secure_channel(address, stack.tls_dir, "portal") as channel:
            stub = keyvault_pb2_grpc.KeyVaultStub(channel)
            health = await stub.Health(keyvault_pb2.HealthRequest(), timeout=5)
        assert health.ok and health.vault_unsealed and health.vault_authenticated
        assert health.token_ttl_seconds > 0


def test_infrastructure_given_by_url_is_used_instead_of_started(data_dir: Path) -> None:
    with RunningStack(data_dir / "a") as first:
        approle = first.data_dir / "bao" / "approle"
        second = RunningStack(
            data_dir / "b",
            env={
                "KEYRELAY_VAULT_ADDR": first.vault_addr,
                "KEYRELAY_VAULT_CACERT": str(first.tls_dir / "ca.pem"),
                "KEYRELAY_KEYVAULT_ROLE_ID_FILE": str(approle / "role-id"),
                "KEYRELAY_KEYVAULT_SECRET_ID_FILE": str(approle / "secret-id"),
                "KEYRELAY_NATS_URL": f"nats://127.0.0.1:{first.infra_base_port + 2}",
                "KEYRELAY_DATABASE_URL": (
                    f"postgresql+asyncpg://postgres@127.0.0.1:{first.infra_base_port + 3}/keyrelay"
                ),
            },
        )
        with second:
            assert httpx.get(f"{second.portal_url}/readyz").json()["status"] == "ready"
            for started_by_launcher in ("bao", "nats", "pg"):
                assert not (second.data_dir / started_by_launcher).exists()
        assert second.proc is not None and second.proc.returncode == 0
        # Stopping the second stack left the shared infrastructure running.
        assert httpx.get(f"{first.portal_url}/readyz").status_code == 200


def test_a_crashed_service_is_restarted_by_the_launcher(data_dir: Path) -> None:
    with RunningStack(data_dir) as stack:
        pid = _service_pid(stack, "keyrelay.router.main")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            new_pid = _service_pid(stack, "keyrelay.router.main", missing_ok=True)
            if new_pid and new_pid != pid and httpx.get(f"{stack.portal_url}/readyz").status_code == 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"router was not restarted:\n{stack.output()}")
        assert "router exited" in stack.output() and "restarting" in stack.output()


def _service_pid(stack: RunningStack, module: str, missing_ok: bool = False) -> int | None:
    assert stack.proc is not None
    for child in psutil.Process(stack.proc.pid).children():
        try:
            if module in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                return child.pid
        except psutil.ZombieProcess:
            continue
    if missing_ok:
        return None
    raise AssertionError(f"{module} is not running under the launcher")
