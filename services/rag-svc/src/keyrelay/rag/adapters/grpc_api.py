"""The Rag gRPC servicer. RPCs not implemented yet answer UNIMPLEMENTED."""

from __future__ import annotations

from keyrelay.v1 import rag_pb2, rag_pb2_grpc

SERVICE_NAME = rag_pb2.DESCRIPTOR.services_by_name["Rag"].full_name

# Which service identities may call which RPC (see keyrelay.common.rpc).
ALLOW = {"*": ["portal"]}


class RagService(rag_pb2_grpc.RagServicer):
    pass
