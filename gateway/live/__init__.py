"""Live updates: the browser side of the tracking page's live map and the embeddable widget."""
