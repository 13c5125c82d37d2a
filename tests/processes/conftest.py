"""Real `lastmile` processes: each test starts several and waits for them to be ready."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Several processes each importing the whole app: on a loaded 2-core machine start-up alone
    # can take most of the suite's default 60 s per test.
    for item in items:
        if "tests/processes/" in str(item.path) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(240))
