"""`lastmile simulate`: drivers, parcels and customers of one simulated day, played against a
running gateway through its public HTTP APIs only (merchant API, driver app API, signed carrier
webhooks, the tracking page's rating endpoint).

scenario.py writes the day (pure and seeded), motion.py and gps.py turn routes into noisy pings,
runner.py plays it on a SimClock, api.py and carriers.py are the HTTP clients.
"""
