"""Test-session set-up for talkzoo's core tests.

The example third-party plugins under ``tests/plugins/`` are real distributions with their own
``talkzoo.plugins`` entry points. For the session they are pip-installed (no dependencies, no
build isolation) into a temporary ``--target`` folder that is put on ``sys.path`` and on
``PYTHONPATH`` for subprocesses, so they are discovered exactly as an installed third-party
plugin is, without touching the user's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PLUGIN_SOURCES = Path(__file__).parent / "plugins"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _install_example_plugins() -> Path:
    target = Path(tempfile.mkdtemp(prefix="talkzoo-test-plugins-"))
    sources = sorted(str(p) for p in PLUGIN_SOURCES.iterdir() if (p / "pyproject.toml").is_file())
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "--no-compile", "--disable-pip-version-check", "--target", str(target), *sources]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"could not install the example plugins:\n{result.stdout}\n{result.stderr}")
    return target


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("TALKZOO_TEST_PLUGINS"):
        target = Path(os.environ["TALKZOO_TEST_PLUGINS"])
    else:
        target = _install_example_plugins()
        os.environ["TALKZOO_TEST_PLUGINS"] = str(target)
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    paths = [str(target), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))


@pytest.fixture
def talkzoo_cli():
    """Run the ``talkzoo`` console script in a subprocess; returns ``CompletedProcess``."""

    def run(*args: str, cwd: str | Path | None = None, env: dict | None = None, timeout: float = 600):
        full_env = {**os.environ, **(env or {})}
        exe = Path(sys.executable).with_name("talkzoo")
        return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout)

    return run
