"""JSON round trips for the rules' persisted states (frozen dataclasses), through pydantic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, cast

from pydantic import TypeAdapter

_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(state_type: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(state_type)
    if adapter is None:  # building one costs milliseconds: once per state type
        adapter = _ADAPTERS[state_type] = TypeAdapter(state_type)
    return adapter


class JsonState:
    """Mixin: `to_json()` gives plain JSON values (ISO datetimes), `from_json()` reads them back."""

    __slots__ = ()

    def to_json(self) -> dict[str, object]:
        return cast(dict[str, object], _adapter(type(self)).dump_python(self, mode="json"))

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        """Raises pydantic.ValidationError for data that is not a state of this type."""
        return cast(Self, _adapter(cls).validate_python(data))
