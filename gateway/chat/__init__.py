"""Talking to the driver: a masked relay between the customer (SMS reply or tracking page) and
the driver of their stop (driver app or SMS), the thread kept on the shipment for the store."""
