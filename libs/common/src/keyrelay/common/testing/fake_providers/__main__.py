"""``python -m keyrelay.common.testing.fake_providers --port N [--echo]``: serve until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal

import uvloop

from ._server import FakeProviders


async def serve(args: argparse.Namespace) -> None:
    fake = FakeProviders(echo=args.echo, chunk_words=args.chunk_words, latency=args.latency)
    await fake.start(args.host, args.port)
    print(fake.base_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m keyrelay.common.testing.fake_providers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--echo", action="store_true", help="answer with the texts of the messages sent")
    parser.add_argument("--chunk-words", type=int, default=1, help="words per streamed text chunk")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    uvloop.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
