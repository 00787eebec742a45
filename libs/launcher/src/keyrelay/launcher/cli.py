"""The `keyrelay` command: `keyrelay up` starts the stack; admin subcommands follow."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from keyrelay.launcher.admin import add_admin_commands, common_options
from keyrelay.launcher.process import LaunchError
from keyrelay.launcher.stack import Stack, StackConfig


def _up(args: argparse.Namespace) -> int:
    config = StackConfig.from_env(
        Path(getattr(args, "data_dir", None) or ".keyrelay").resolve(),
        portal_port=args.portal_port,
        grpc_base_port=args.grpc_base_port,
        infra_base_port=args.infra_base_port,
    )
    stack = Stack(config)
    state = {"starting": True, "stop": False}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        state["stop"] = True
        if state["starting"]:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        stack.start()
    except LaunchError as exc:
        print(f"keyrelay: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keyrelay: interrupted during start; stopped", file=sys.stderr)
        return 130
    state["starting"] = False
    print(
        f"keyrelay is ready in {time.monotonic() - started:.1f}s\n"
        f"  portal:      {stack.portal_url}  (API docs at {stack.portal_url}/docs)\n"
        f"  admin token: {stack.admin_token_file}\n"
        f"  logs:        {stack.log_dir}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    code = 0
    try:
        stack.supervise(lambda: state["stop"])
    except LaunchError as exc:
        print(f"keyrelay: {exc}", file=sys.stderr)
        code = 1
    finally:
        stack.stop()
    print("keyrelay stopped", flush=True)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keyrelay",
        description="keyrelay: multi-tenant BYOK AI platform. 'keyrelay up' starts the stack; the other "
        "commands administer a running one over the portal API.",
        parents=[common_options()],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="start the whole stack in the foreground (Ctrl-C stops it)")
    # SUPPRESS: `keyrelay --data-dir X up` (the global option) is not overridden by a default here.
    up.add_argument(
        "--data-dir", default=argparse.SUPPRESS, help="where everything persists (default ./.keyrelay)"
    )
    up.add_argument("--portal-port", type=int, default=8001, help="portal HTTP port (default 8001)")
    up.add_argument(
        "--grpc-base-port",
        type=int,
        default=50051,
        help="keyvault, router, rag listen on this port and the next two (default 50051)",
    )
    up.add_argument(
        "--infra-base-port",
        type=int,
        default=18200,
        help="OpenBao (+1 cluster), NATS (+2), Postgres (+3) (default 18200)",
    )
    up.set_defaults(func=_up)
    add_admin_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s keyrelay %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
