"""What every job finds in arq's ctx, typed."""

from __future__ import annotations

from typing import Any, TypedDict

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.base import Channel
from gateway.platform.settings import Settings


class JobContext(TypedDict, total=False):
    redis: ArqRedis
    job_id: str
    job_try: int
    enqueue_time: Any
    score: int
    settings: Settings
    db: AsyncEngine
    channels: dict[str, Channel]  # by kind: sms, email, push (notifications)
    send_inline: bool  # shipment_changed sends notifications due now itself (the worker's way)
    notify_backoff_s: tuple[float, ...]  # tests shorten send_notification's retry schedule
