"""The one-shot jobs of docker-compose.yml: what `keyrelay up` does before it starts the
services, done for containers.

    python compose_init.py certs       # job `certs`, before OpenBao starts
    python compose_init.py bootstrap   # job `init`, once OpenBao answers

`certs`: the local CA and one certificate per identity (keyrelay.common.tls, as the launcher
makes them). The CA, with its private key, stays in the `bootstrap` volume; each identity
gets only `ca.pem`, `<id>.pem` and `<id>-key.pem`, in its own volume (`<volume>/tls/`), so
that no service can read another's key or issue certificates.

`bootstrap`: OpenBao is initialised if it is not (3 unseal shares, threshold 2), unsealed
if it is sealed, then given the same mounts, policy and AppRole as the embedded stack (the
names and the policy come from keyrelay.launcher.openbao). keyvault-svc's AppRole
credentials go to its volume; the portal's admin token to the portal's. Every step is
idempotent, so the job runs on every `docker compose up` and then only unseals.

The unseal shares and the root token are kept in the `bootstrap` volume (init.json, 0600)
so that the job can unseal after a restart. Keeping every share in one place undoes what
Shamir's split is for: that is a development convenience. In production the shares are
handed to different operators (or OpenBao uses auto-unseal with a KMS / transit seal), and
the root token is revoked after bootstrap.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hvac
import requests

from keyrelay.common.tls import ensure_certificates
from keyrelay.launcher.openbao import bootstrap

# Mount points of the volumes in the init containers (see docker-compose.yml).
BOOTSTRAP_DIR = Path("/bootstrap")  # CA key and OpenBao init.json: only the init jobs see it
PROVISION_DIR = Path("/provision")  # /provision/<identity>: that identity's own volume

# Identities that get a certificate: the four services, and OpenBao's listener (`vault`).
IDENTITIES = ("keyvault", "router", "rag", "portal", "vault")

SECRET_SHARES = 3
SECRET_THRESHOLD = 2
WAIT_SECONDS = 90


def log(message: str) -> None:
    print(f"compose-init: {message}", flush=True)


def write_private(path: Path, data: str | bytes, dir_mode: int = 0o700) -> None:
    """Write a file readable by its owner only (0600), creating its directory."""
    path.parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# -- certs ------------------------------------------------------------------------------


def provision_certificates(bootstrap_dir: Path, provision_dir: Path) -> None:
    ca_dir = bootstrap_dir / "ca"
    ensure_certificates(ca_dir, list(IDENTITIES))
    for identity in IDENTITIES:
        install_identity(ca_dir, identity, provision_dir / identity / "tls")


def install_identity(ca_dir: Path, identity: str, dest: Path) -> None:
    """Copy one identity's material to its volume, unless it is already there.

    The comparison reads only public files (ca.pem, the certificate): OpenBao's image
    chowns its volume to the `openbao` user on first start, after which this job (another
    user) can still read those but not the key. The directory is 0755 for the same reason;
    the key itself is 0600, and each volume is mounted by one service only.
    """
    ca = (ca_dir / "ca.pem").read_bytes()
    cert = (ca_dir / f"{identity}.pem").read_bytes()
    ca_file, cert_file, key_file = dest / "ca.pem", dest / f"{identity}.pem", dest / f"{identity}-key.pem"
    try:
        if (
            key_file.exists()
            and ca_file.exists()
            and cert_file.exists()
            and ca_file.read_bytes() == ca
            and cert_file.read_bytes() == cert
        ):
            log(f"{identity}: certificate already installed")
            return
        dest.mkdir(mode=0o755, parents=True, exist_ok=True)
        write_private(key_file, (ca_dir / f"{identity}-key.pem").read_bytes())
        cert_file.write_bytes(cert)
        ca_file.write_bytes(ca)
    except PermissionError as exc:
        raise SystemExit(
            f"cannot install {identity}'s certificate in {dest} ({exc}). If the CA in the "
            "bootstrap volume was re-created, the identity's volume still holds the old one: "
            "remove that volume (for OpenBao: `docker volume rm keyrelay_openbao-tls`) and run "
            "`docker compose up` again."
        ) from exc
    log(f"{identity}: certificate installed")


# -- bootstrap -------------------------------------------------------------------------


def initialise_and_unseal(client: hvac.Client, init_file: Path) -> str:
    """Initialise OpenBao if it is new, unseal it if it is sealed; return the root token."""
    if not client.sys.is_initialized():
        if init_file.exists():
            raise SystemExit(
                f"{init_file} exists but OpenBao reports it is not initialised: its raft data "
                "(volume openbao-data) was removed. Restore it, or remove the bootstrap volume "
                "too to start over (every stored key is then lost)."
            )
        result = client.sys.initialize(secret_shares=SECRET_SHARES, secret_threshold=SECRET_THRESHOLD)
        write_private(
            init_file,
            json.dumps(
                {
                    "unseal_keys_b64": result["keys_base64"],
                    "unseal_threshold": SECRET_THRESHOLD,
                    "root_token": result["root_token"],
                }
            ),
        )
        log(f"OpenBao initialised ({SECRET_SHARES} unseal shares, threshold {SECRET_THRESHOLD})")
    if not init_file.exists():
        raise SystemExit(
            f"OpenBao is initialised but {init_file} is missing: this job cannot unseal or "
            "bootstrap it. Unseal it with the operators' shares (`bao operator unseal`)."
        )
    saved = json.loads(init_file.read_text())
    if client.sys.is_sealed():
        # hvac submits shares one by one and stops once the threshold is reached.
        client.sys.submit_unseal_keys(saved["unseal_keys_b64"])
        log("OpenBao unsealed")
    return str(saved["root_token"])


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"OpenBao was not {what} within {timeout:.0f}s")
        time.sleep(0.5)


def _health(addr: str, ca: str) -> int | None:
    """Status of /v1/sys/health: 200 active, 429 standby, 501 new, 503 sealed; None if down."""
    try:
        return requests.get(f"{addr}/v1/sys/health", verify=ca, timeout=2).status_code
    except requests.RequestException:
        return None


def run_bootstrap(bootstrap_dir: Path, provision_dir: Path) -> None:
    addr = os.environ.get("KEYRELAY_VAULT_ADDR", "https://openbao:8200")
    ca = str(bootstrap_dir / "ca" / "ca.pem")
    wait_until(lambda: _health(addr, ca) is not None, f"answering on {addr}")
    root_token = initialise_and_unseal(
        hvac.Client(url=addr, verify=ca, timeout=10), bootstrap_dir / "bao" / "init.json"
    )
    # Right after unsealing, raft elects its leader; writes fail until the node is active.
    wait_until(lambda: _health(addr, ca) == 200, "unsealed and active")
    creds = bootstrap(
        hvac.Client(url=addr, token=root_token, verify=ca, timeout=10),
        provision_dir / "keyvault" / "approle",
    )
    log(f"OpenBao bootstrapped; AppRole credentials for keyvault-svc in {creds.role_id_file.parent}")
    ensure_admin_token(provision_dir / "portal" / "admin-token", os.environ.get("KEYRELAY_ADMIN_TOKEN"))


def ensure_admin_token(path: Path, preset: str | None) -> None:
    """As the launcher: KEYRELAY_ADMIN_TOKEN when given, else a generated token kept across runs."""
    if preset:
        write_private(path, preset)
        log(f"portal admin token set from KEYRELAY_ADMIN_TOKEN ({path.name} in the portal's volume)")
    elif not path.exists():
        write_private(path, "kra_" + secrets.token_urlsafe(32))
        log("portal admin token generated: docker compose exec portal-api cat /var/lib/keyrelay/admin-token")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("job", choices=["certs", "bootstrap"])
    parser.add_argument("--bootstrap-dir", type=Path, default=BOOTSTRAP_DIR)
    parser.add_argument("--provision-dir", type=Path, default=PROVISION_DIR)
    args = parser.parse_args(argv)
    if args.job == "certs":
        provision_certificates(args.bootstrap_dir, args.provision_dir)
    else:
        run_bootstrap(args.bootstrap_dir, args.provision_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
