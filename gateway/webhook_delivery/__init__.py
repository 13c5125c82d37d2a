"""Outbound store webhooks (Standard Webhooks): signing, SSRF-safe sending, the delivery job."""
