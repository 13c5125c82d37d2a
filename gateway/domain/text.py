"""Text that can be stored anywhere: no NUL characters, no unpaired UTF-16 surrogates.

PostgreSQL refuses NUL in text, and a lone surrogate (a JSON `\\ud800` escape) cannot be encoded
as UTF-8 at all, so either would fail the write that carries it. API input with such text is
refused naming the field (`first_text_problem`); carrier text is cleaned (`clean_text`), since
the carrier cannot be asked to resend and the rest of its push is good.
"""

from __future__ import annotations

from typing import Final

REPLACEMENT: Final = "\ufffd"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired UTF-16 surrogate"
    return None


def clean_text(value: str) -> str:
    """`value` with each NUL and each unpaired surrogate replaced by U+FFFD."""
    if text_problem(value) is None:
        return value
    # surrogatepass turns each lone surrogate into its own code unit; decoding it fails: U+FFFD.
    units = value.replace("\x00", REPLACEMENT).encode("utf-16-le", "surrogatepass")
    return units.decode("utf-16-le", "replace")


def first_text_problem(value: object, path: str = "") -> tuple[str, str] | None:
    """(field path, problem) of the first string in a JSON value (keys too) that has one."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path or "body", problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = first_text_problem(str(key), where) or first_text_problem(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = first_text_problem(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None
