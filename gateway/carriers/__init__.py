"""Carrier ingest: carrier connections and the webhook each carrier posts to (verify, parse, 202).

The adapters themselves are pure functions in the top-level `webhooks/` package.
"""
