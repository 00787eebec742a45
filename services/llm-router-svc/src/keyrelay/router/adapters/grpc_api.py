"""The Router gRPC servicer. RPCs not implemented yet answer UNIMPLEMENTED."""

from __future__ import annotations

from keyrelay.v1 import router_pb2, router_pb2_grpc

SERVICE_NAME = router_pb2.DESCRIPTOR.services_by_name["Router"].full_name

# Which service identities may call which RPC (see keyrelay.common.rpc).
ALLOW = {"*": ["portal", "rag", "keyvault"]}


class RouterService(router_pb2_grpc.RouterServicer):
    pass
