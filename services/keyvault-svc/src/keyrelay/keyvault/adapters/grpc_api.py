"""The KeyVault gRPC servicer. RPCs not implemented yet answer UNIMPLEMENTED."""

from __future__ import annotations

import grpc
from keyrelay.keyvault.adapters.vault import VaultGateway
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc

SERVICE_NAME = keyvault_pb2.DESCRIPTOR.services_by_name["KeyVault"].full_name


def method(name: str) -> str:
    return f"/{SERVICE_NAME}/{name}"


# Which service identities may call which RPC (see keyrelay.common.rpc).
ALLOW = {
    method("ResolveKey"): ["router"],
    method("Health"): ["portal", "router", "rag", "launcher"],
    "*": ["portal"],
}


class KeyVaultService(keyvault_pb2_grpc.KeyVaultServicer):
    def __init__(self, vault: VaultGateway) -> None:
        self._vault = vault

    async def Health(
        self, request: keyvault_pb2.HealthRequest, context: grpc.aio.ServicerContext
    ) -> keyvault_pb2.HealthResponse:
        s = await self._vault.health()
        return keyvault_pb2.HealthResponse(
            ok=bool(s["authenticated"]),
            vault_reachable=s["reachable"],
            vault_unsealed=s["unsealed"],
            vault_authenticated=s["authenticated"],
            token_ttl_seconds=s["ttl"],
            message=s["message"] or "ok",
        )
