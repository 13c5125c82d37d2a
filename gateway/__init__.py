"""Lastmile Gateway: last-mile tracking and customer notifications.

One package per capability, each with the same rooms (`routes.py` HTTP handlers and their route
table, `jobs.py` arq jobs, `rules.py` pure decisions, `store*.py` the SQL for its `tables.py`,
`schemas.py` request and response bodies). Follow an event from the carrier's POST to the SMS:

1. `carriers/`       the carrier webhook: verify and parse (`webhooks/<carrier>.py`), 202
2. `shipments/`      events stored once and in order, the shipment's state, a change + outbox row
3. `platform/relay`  outbox → arq (Redis); `shipments/jobs.py` fans the change out to:
4. `notifications/`  rules → plan → render (`templates/`) → send (`channels/`)
   `store_webhooks/` signed Standard Webhooks to the store's endpoints
5. `tracking/`       the customer's tracking page, links and ratings

Beside them: `domain/` (the canonical model every area shares), `tenants/` (stores and API keys),
`platform/` (settings, logging, metrics, ids, clock, database, Redis, outbox, job names).
`app.py` mounts every route, `worker.py` registers every job, `cli.py` is `lastmile`, `demo/` is
`lastmile demo`. docs/architecture.md has the picture.
"""
