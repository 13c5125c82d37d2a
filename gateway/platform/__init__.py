"""Plumbing every area uses: settings, logging, metrics, ids, clock, database and migrations,
Redis (embedded for the demo), the outbox and its relay to arq, HTTP errors, the OpenAPI table."""
