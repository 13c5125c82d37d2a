"""Shipments: registration, the timeline of canonical events (stored once, in order), each
shipment's state, and the `shipment_changed` job that fans every change out to the other areas."""
