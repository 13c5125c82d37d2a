"""Customer tracking: signed tracking links, the tracking page and its JSON, and ratings (by page or
SMS reply)."""
