"""Schemathesis against the running portal's /openapi.json: every operation, with valid
credentials, finds no server error and no response that breaks the documented schema."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import RunningStack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    root = Path(tempfile.mkdtemp(prefix="keyrelay-e2e-fuzz-"))
    with RunningStack(root / "data") as running:
        yield running
    shutil.rmtree(root, ignore_errors=True)


def test_fuzzing_the_openapi_schema_finds_no_server_error_and_no_schema_violation(
    stack: RunningStack,
) -> None:
    admin = {"Authorization": f"Bearer {(stack.data_dir / 'admin-token').read_text().strip()}"}
    httpx.post(
        f"{stack.portal_url}/v1/admin/tenants", json={"tenant_id": "fuzz", "name": "Fuzz"}, headers=admin
    )
    issued = httpx.post(
        f"{stack.portal_url}/v1/admin/tenants/fuzz/access-keys",
        json={"name": "fuzz", "role": "admin"},
        headers=admin,
    ).json()
    st = Path(sys.executable).parent / "st"
    run = subprocess.run(
        [
            str(st),
            "run",
            f"{stack.portal_url}/openapi.json",
            "-H",
            f"Authorization: Bearer {issued['key']}",
            "-H",
            "X-Tenant-ID: fuzz",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            "25",
            "--workers",
            "2",
            "--seed",
            "20261122",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert "generated" in output, f"schemathesis did not run:\n{output[-3000:]}"
    failures = re.findall(r"^\s*❌ (ST\d+ [^:\n]+): (\d+)", output, re.MULTILINE)
    assert not failures, f"schemathesis found failures {failures}:\n{output[-6000:]}"
    assert issued["key"] not in output
