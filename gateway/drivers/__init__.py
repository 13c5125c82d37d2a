"""Drivers and dispatch: the in-house driver app's pings, stops, routes and proof of delivery.

`rules/` holds the pure decisions (ping screening, geofence, route deviation, ETA, lateness);
`proof` checks and cleans proof-of-delivery images; `proof_storage` keeps them (local directory
or S3-compatible object storage).
"""
