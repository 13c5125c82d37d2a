"""Pure driver rules: no I/O and no clock reads (`now` is always a parameter).

Each rule takes a batch's trusted pings plus a small frozen state from the previous batch and
returns its decisions and the next state, which the caller persists (`to_json` / `from_json`).

- `pings`: screen a batch of pings (refuse impossible ones, mark inaccurate ones untrusted).
- `trace`: the trusted pings of a batch as arrays, built once and shared by the rules below.
- `geofence`: `arriving` / `departed` per stop, and "N stops away".
- `deviation`: `off_route` / `back_on_route` against the planned path; distance along it.
- `speed` and `eta`: the driver's learned speed, ETAs per remaining stop, "ETA moved".
- `lateness`: `late` when an ETA passes the promised time, or the promised time passes.
- `batch`: all of the above for one batch, with one JSON state per route (`evaluate_batch`).
- `geo` and `state`: distances, the local metric plane, and the states' JSON round trip.
"""
