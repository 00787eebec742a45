"""Generate the gRPC stubs from ``protos/`` (``make protos``; never edit the output by hand).

``protos/keyrelay/v1/*.proto`` compile with ``-I protos`` into ``<out_dir>/keyrelay/v1/``,
so the generated modules import each other as ``from keyrelay.v1 import common_pb2`` and
callers write ``from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from grpc_tools import protoc

REPO_ROOT = Path(__file__).resolve().parents[5]
PROTO_ROOT = REPO_ROOT / "protos"
PROTO_PACKAGE = Path("keyrelay") / "v1"
# Where the committed stubs live: the src root of libs/common (stubs in keyrelay/v1/).
SRC_ROOT = REPO_ROOT / "libs" / "common" / "src"
GENERATED_GLOBS = ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / PROTO_PACKAGE).glob("*.proto"))


def generated_files(out_dir: Path) -> list[Path]:
    """The generated stubs currently under ``out_dir/keyrelay/v1``."""
    package_dir = out_dir / PROTO_PACKAGE
    return sorted(path for pattern in GENERATED_GLOBS for path in package_dir.glob(pattern))


def generate(out_dir: Path) -> list[Path]:
    """Compile every proto into ``out_dir/keyrelay/v1`` and return the generated files.

    Stubs already there are removed first, so a deleted proto leaves nothing behind.
    """
    protos = proto_files()
    if not protos:
        raise RuntimeError(f"no .proto files under {PROTO_ROOT / PROTO_PACKAGE}")
    for stale in generated_files(out_dir):
        stale.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *(str(path) for path in protos),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed (see the messages above)")
    return generated_files(out_dir)


def main() -> None:
    for path in generate(SRC_ROOT):
        print(path.relative_to(REPO_ROOT))


if __name__ == "__main__":
    main()
