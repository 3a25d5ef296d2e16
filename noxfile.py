"""nox sessions.

* `nox -s tests`: everything, in one fresh environment (the default session);
* `nox -s plugin`: each plugin's tests in its own environment;
* `nox -s benchmark`: speed and memory of the 3D plugins vs the reference loop
  (benchmarks/speed_memory.py -> benchmarks/results/speed_memory_<device>.json; arguments after
  `--` go to the script, e.g. `nox -s benchmark -- --quick`);
* `nox -s leaderboard`: the demo leaderboard (benchmarks/leaderboard.py on benchmarks/grids/demo.yaml).
"""

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


def _install_all(session: nox.Session) -> None:
    session.install("-e", ".", *[f"-e./plugins/{p}" for p in PLUGINS])


@nox.session
def benchmark(session: nox.Session) -> None:
    """Training/inference speed and peak memory vs the reference loop; writes benchmarks/results/speed_memory_<device>.json."""
    _install_all(session)
    session.run("python", "benchmarks/speed_memory.py", *session.posargs, env={"HF_HUB_OFFLINE": "1"})


@nox.session
def leaderboard(session: nox.Session) -> None:
    """The demo leaderboard: builds the demo corpus if needed, trains any missing checkpoint of the
    grid from its recipe, scores every row; writes benchmarks/results/leaderboard/demo/results.{json,md}.
    Extra arguments replace the defaults (e.g. ``nox -s leaderboard -- --grid benchmarks/grids/vocaset.yaml``)."""
    _install_all(session)
    if not Path("data/demo/templates.pkl").is_file():
        session.run("talkzoo", "data", "demo", "--out", "data/demo")
    args = session.posargs or ["--grid", "benchmarks/grids/demo.yaml", "--train-missing"]
    session.run("python", "benchmarks/leaderboard.py", *args, env={"HF_HUB_OFFLINE": "1"})
