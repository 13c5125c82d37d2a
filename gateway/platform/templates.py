"""Where the Jinja2 templates are, and the file-backed environments built over them.

The templates live in the repository's top-level `templates/`; the wheel ships them inside the
package as `gateway/templates/` (package data, see `hatch_build.py`). `template_dir()` is the one
place that knows both. Each purpose has its own environment: notifications
(gateway/notifications/render.py), customer pages (gateway/tracking/pages.py), and the sandbox
for a store's own templates (render.py), which is never given a loader.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

import jinja2

PACKAGE: Final = "gateway"
FOLDER: Final = "templates"


@cache
def template_dir() -> Path:
    """`gateway/templates/` when installed from the wheel, else the checkout's `templates/`."""
    packaged = resources.files(PACKAGE) / FOLDER
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / FOLDER
    if not checkout.is_dir():
        raise RuntimeError(f"no {FOLDER}/ folder beside or inside the {PACKAGE} package")
    return checkout


def file_environment() -> jinja2.Environment:
    """A new environment over `template_dir()`: `.html.j2` autoescaped, StrictUndefined (a
    missing variable is an error, never an empty string), tags that leave no blank lines."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
