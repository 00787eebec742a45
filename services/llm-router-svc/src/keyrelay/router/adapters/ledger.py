"""The usage ledger's writer: a durable JetStream pull consumer on KEYRELAY_USAGE that
writes usage events to Postgres in batches (SPEC §5). Replicas share the durable consumer,
so each event is written by one of them; a replayed event is ignored (its id is unique)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig

from keyrelay.common.db import POOL_ERRORS
from keyrelay.common.nats_helpers import USAGE_STREAM, USAGE_SUBJECTS
from keyrelay.router.adapters.store import RouterStore

log = logging.getLogger(__name__)
DURABLE = "router-ledger"
# A part batch means the ledger has caught up: it waits this long before the next fetch, so
# the next write carries the events of many calls, not one (the ledger trails by this much).
CATCH_UP_PAUSE_SECONDS = 0.1


def ledger_row(event: dict[str, Any]) -> dict[str, Any]:
    data = event["data"]
    return {
        "id": str(data["id"]),
        "event_id": str(event["id"]),
        "tenant_id": str(event["tenantid"]),
        "access_key_id": str(data.get("access_key_id") or ""),
        "request_id": str(data.get("request_id") or ""),
        "created_at": datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
        "task_type": str(data["task_type"]),
        "provider": str(data["provider"]),
        "model": str(data["model"]),
        "key_source": str(data["key_source"]),
        "prompt_tokens": int(data["prompt_tokens"]),
        "completion_tokens": int(data["completion_tokens"]),
        "estimated": bool(data["estimated"]),
        "cost_micros": int(data["cost_micros"]),
        "latency_ms": float(data["latency_ms"]),
        "stream": bool(data["stream"]),
        "success": bool(data["success"]),
        "error_type": str(data.get("error_type") or ""),
        "attempts": int(data.get("attempts") or 1),
    }


async def run_ledger(nc: NATS, store: RouterStore, batch: int = 256) -> None:
    js = nc.jetstream()
    config = ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=10_000)
    while True:
        try:
            sub = await js.pull_subscribe(USAGE_SUBJECTS, durable=DURABLE, stream=USAGE_STREAM, config=config)
            break
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            log.warning("ledger consumer not ready (%r); retrying", exc)
            await asyncio.sleep(1)
    while True:
        try:
            messages = await sub.fetch(batch, timeout=1)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        except (nats.errors.Error, OSError) as exc:
            log.warning("ledger fetch failed (%r); retrying", exc)
            await asyncio.sleep(0.5)
            continue
        rows = []
        for msg in messages:
            try:
                rows.append(ledger_row(json.loads(msg.data)))
            except (ValueError, KeyError, TypeError):
                log.error("malformed usage event on %s skipped", msg.subject)
        try:
            await store.write_ledger(rows)
        except POOL_ERRORS as exc:
            log.warning("ledger write failed (%s); the events will be redelivered", type(exc).__name__)
            await asyncio.sleep(1)
            continue
        for msg in messages:
            await msg.ack()
        if len(messages) < batch:
            await asyncio.sleep(CATCH_UP_PAUSE_SECONDS)
