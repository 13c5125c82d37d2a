"""Stores (tenants): creation, hashed API keys, and the bearer authentication of the store API."""
