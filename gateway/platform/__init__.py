"""Plumbing every area uses: settings, logging, metrics, ids, clock, database and migrations,
Redis (embedded for the demo), the outbox and its relay to arq, job names and Redis keys, the
template folder, HTTP errors and the OpenAPI table."""
