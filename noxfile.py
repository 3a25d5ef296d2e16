"""nox sessions: `nox -s tests` (everything), `nox -s plugin` (each plugin in its own venv)."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests"]
PLUGINS = sorted(p.name for p in Path("plugins").iterdir() if (p / "pyproject.toml").is_file())


@nox.session
def tests(session: nox.Session) -> None:
    """Core and every plugin, in one fresh environment."""
    session.install("-e", ".[test]", *[f"-e./plugins/{p}" for p in PLUGINS])
    session.run("python", "-m", "pytest", *session.posargs, env={"HF_HUB_OFFLINE": "1"})


@nox.session
@nox.parametrize("plugin", PLUGINS)
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin's tests with only the core and that plugin installed."""
    session.install("-e", ".[test]", f"-e./plugins/{plugin}")
    session.run("python", "-m", "pytest", f"plugins/{plugin}/tests", *session.posargs, env={"HF_HUB_OFFLINE": "1"})
