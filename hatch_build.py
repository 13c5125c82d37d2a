"""Wheel layout: everything installs under the `gateway` package, nothing at the top level.

The repository keeps its top-level folders (`gateway/`, `channels/`, `webhooks/`, `templates/`),
and a checkout imports them as they are (`uv sync` installs it in development mode). Installed
as top-level packages, though, `channels` and `webhooks` would collide with other distributions
(Django Channels installs `channels`), and `templates` is no package at all. So the wheel gets a
staged copy instead:

    channels/**   -> gateway/channels/**   (`from channels.x` becomes `from gateway.channels.x`)
    webhooks/**   -> gateway/webhooks/**   (likewise, in every module of the three)
    templates/**  -> gateway/templates/**  (package data; gateway/platform/templates.py finds it)

Imports are rewritten from the syntax tree, not by text search: only `from channels...` and
`from webhooks...` statements change, and an `import channels` (which could not be rewritten
in place) fails the build. tests/test_wheel.py builds the wheel, installs it and runs the demo.
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE: Final = "gateway"
NESTED: Final = ("channels", "webhooks")  # top-level in the repository, inside PACKAGE installed
DATA: Final = ("templates",)
SKIPPED: Final = ("__pycache__", ".mypy_cache", ".ruff_cache")


def rewrite_imports(source: str, filename: str) -> str:
    """`source` with `from channels...`/`from webhooks...` pointing inside PACKAGE.

    Raises ValueError for a plain `import channels`/`import webhooks`, whose uses in the module
    would need rewriting too.
    """
    lines = source.splitlines(keepends=True)
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] in NESTED for alias in node.names):
                raise ValueError(f"{filename}:{node.lineno}: use `from ... import` for {NESTED}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top in NESTED:
                index = node.lineno - 1
                old, new = f"from {top}", f"from {PACKAGE}.{top}"
                if old not in lines[index]:
                    raise ValueError(f"{filename}:{node.lineno}: unexpected import layout")
                lines[index] = lines[index].replace(old, new, 1)
    return "".join(lines)


def stage(root: Path, staging: Path) -> Path:
    """Write the installed `gateway` package (code, nested packages, templates) under `staging`."""
    target = staging / PACKAGE
    for name, destination in ((PACKAGE, target), *((n, target / n) for n in NESTED + DATA)):
        for path in sorted((root / name).rglob("*")):
            if (
                path.is_dir()
                or any(part in SKIPPED for part in path.parts)
                or path.suffix == ".pyc"
            ):
                continue
            out = destination / path.relative_to(root / name)
            out.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".py":
                out.write_text(rewrite_imports(path.read_text("utf-8"), str(path)), "utf-8")
            else:
                shutil.copyfile(path, out)
    return target


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Stages the package for a regular wheel; development installs use the checkout as is."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        self._staging = Path(tempfile.mkdtemp(prefix="lastmile-wheel-"))
        build_data["force_include"][str(stage(Path(self.root), self._staging))] = PACKAGE

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
