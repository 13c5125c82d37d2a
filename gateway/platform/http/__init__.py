"""HTTP plumbing shared by every area: JSON errors, API operations and /openapi.json, probes."""
