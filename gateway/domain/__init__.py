"""The canonical model every area shares, without I/O: tracking events and statuses, the
timeline rules, shipment changes, inbound SMS, and contact masking."""
