"""The dispatcher console (`/dispatch`): a store's drivers, routes, alerts and daily figures live
on one page, behind a session cookie that the store's API key is exchanged for."""
