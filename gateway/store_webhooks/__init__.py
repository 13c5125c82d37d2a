"""Store webhooks (outbound): endpoints, Standard Webhooks signing, ordered at-least-once delivery
with retries, replay and an attempt log, behind an SSRF guard. (Carrier input is `carriers/`.)"""
