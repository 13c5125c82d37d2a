"""Request and response bodies of the chat API (described by /openapi.json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.chat.rules import MAX_TEXT_CHARS


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PageMessageIn(_In):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class DriverMessageIn(_In):
    shipment_id: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class DriverChatIn(_In):
    sms: bool = Field(description="also text customers' messages to the driver's phone")


class DriverChatOut(BaseModel):
    driver_id: str
    sms: bool


class RelayOut(BaseModel):
    channel: str = Field(
        description="sms: relayed by SMS from the gateway's number; thread: app/page"
    )
    status: str = Field(description="none | queued | sending | sent | failed")


class MessageOut(BaseModel):
    id: str
    shipment_id: str
    from_: str = Field(alias="from", description="customer | driver")
    via: str = Field(description="sms | page | app")
    text: str
    created_at: str
    driver_id: str | None
    relay: RelayOut

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ThreadOut(BaseModel):
    shipment_id: str
    stop_state: str
    messages: list[MessageOut]


class DriverThreadsOut(BaseModel):
    threads: list[ThreadOut]


class MessagesOut(BaseModel):
    messages: list[MessageOut]
