"""`lastmile demo`: the whole gateway on one machine, with a store and carrier events to watch.

`runner.py` starts everything (embedded Redis, SQLite, gateway, worker) and stops it on Ctrl-C;
`state.py` keeps the demo store and its API key in the state directory so a second run reuses
them; `parcels.py` walks demo parcels from label to doorstep as signed UPS webhooks;
`receiver.py` is the demo store's own webhook endpoint; `console.py` prints one line per thing a
person watching cares about, while the logs go to a file.
"""
