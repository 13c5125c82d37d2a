"""Masking of customer contact details wherever they are shown or logged."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """`+15551230123` → `+1•••••••0123`: enough to recognise, not enough to call."""
    if not phone:
        return None
    return phone[:2] + "•" * max(len(phone) - 6, 1) + phone[-4:]


def mask_email(email: str | None) -> str | None:
    """`jane.doe@example.com` → `j•••@example.com`."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}•••@{domain}"
