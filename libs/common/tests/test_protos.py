"""The committed stubs match protos/, and the services keep the RPCs the SPEC needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyrelay.common import protogen
from keyrelay.v1 import keyvault_pb2, rag_pb2, router_pb2

COMMITTED = protogen.SRC_ROOT / protogen.PROTO_PACKAGE

# What SPEC §4-§6 need; removing one of these RPCs from a proto must fail here.
REQUIRED_RPCS = {
    (keyvault_pb2, "KeyVault"): set(
        """PutKey GetKeyMetadata ListKeys DeleteKey RotateKey ValidateKey ResolveKey
        ListServices GetService PutPlatformSecret GetPlatformSecret ListPlatformSecrets
        DeletePlatformSecret IssueAccessKey VerifyAccessKey ListAccessKeys RevokeAccessKey
        DeleteTenant Health""".split()
    ),
    (router_pb2, "Router"): set(
        """Complete CompleteStream Embed ListModels GetModel Benchmark GetUsage GetAnalytics
        GetTenantSettings PutTenantSettings GetBudget CheckKey""".split()
    ),
    (rag_pb2, "Rag"): set(
        """CreateCollection ListCollections GetCollection DeleteCollection IngestDocument
        GetDocument ListDocuments DeleteDocument ReindexDocument Search Answer
        AnswerStream""".split()
    ),
}
SERVER_STREAMING = {"CompleteStream", "AnswerStream"}


def test_committed_stubs_match_protos(tmp_path: Path) -> None:
    fresh = {p.name: p.read_bytes() for p in protogen.generate(tmp_path)}
    committed = {p.name: p.read_bytes() for p in protogen.generated_files(protogen.SRC_ROOT)}

    hint = "generated stubs are out of date: run `make protos`"
    assert sorted(committed) == sorted(fresh), hint
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"{hint} (differs: {', '.join(stale)})"


def test_namespace_packages_have_no_init() -> None:
    assert not (COMMITTED.parent / "__init__.py").exists()
    assert not (COMMITTED / "__init__.py").exists()


@pytest.mark.parametrize(("module", "service"), list(REQUIRED_RPCS), ids=[name for _, name in REQUIRED_RPCS])
def test_service_has_required_rpcs(module: object, service: str) -> None:
    descriptor = module.DESCRIPTOR.services_by_name[service]  # type: ignore[attr-defined]
    methods = {m.name: m for m in descriptor.methods}

    missing = REQUIRED_RPCS[module, service] - methods.keys()
    assert not missing, f"{service} lacks RPCs: {sorted(missing)}"
    for name in REQUIRED_RPCS[module, service] & SERVER_STREAMING:
        assert methods[name].server_streaming, f"{service}.{name} must stream"
