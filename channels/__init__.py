"""Outbound providers: one module per provider with one async `send()` (see STYLE.md)."""
