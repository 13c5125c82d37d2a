"""The canonical model every area shares, without I/O: tracking events and statuses, places,
the timeline rules, shipment changes, inbound SMS, proof-of-delivery photos, contact masking."""
