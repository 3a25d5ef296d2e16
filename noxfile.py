"""nox sessions.

* `nox -s tests`: everything, in one fresh environment (the default session);
* `nox -s plugin`: each plugin's tests in its own environment;
* `nox -s benchmark`: speed and memory of the 3D plugins vs the reference loop
  (benchmarks/speed_memory.py -> benchmarks/results/speed_memory_<device>.json; arguments after
  `--` go to the script, e.g. `nox -s benchmark -- --quick`);
* `nox -s leaderboard`: the demo leaderboard (benchmarks/leaderboard.py on benchmarks/grids/demo.yaml):
  one results.md with an audio -> mesh table and the audio -> video and reenactment tables;
* `nox -s animate_memory`: peak memory of 2D `talkzoo animate` for 1 vs 10 minutes of speech.
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
    """One plugin's tests, and the registry's conformance suite on its models, with only the core
    and that plugin installed."""
    session.install("-e", ".[test]", f"-e./plugins/{plugin}")
    session.run("python", "-m", "pytest", f"plugins/{plugin}/tests", "tests/test_registry.py", *session.posargs,
                env={"HF_HUB_OFFLINE": "1"})


def _install_all(session: nox.Session, extras: str = "") -> None:
    session.install("-e", f".{extras}", *[f"-e./plugins/{p}" for p in PLUGINS])


@nox.session
def benchmark(session: nox.Session) -> None:
    """Training/inference speed and peak memory vs the reference loop; writes benchmarks/results/speed_memory_<device>.json."""
    _install_all(session)
    session.run("python", "benchmarks/speed_memory.py", *session.posargs, env={"HF_HUB_OFFLINE": "1"})


@nox.session
def leaderboard(session: nox.Session) -> None:
    """The demo leaderboard: builds the 3D and 2D demo corpora if needed, trains any missing checkpoint
    of the grid from its recipe, scores every row (3D and 2D: one metric collection per family, the 2D
    landmark/identity metrics with dlib's networks, hence the ``dlib`` extra); writes
    benchmarks/results/leaderboard/demo/results.{json,md}. Extra arguments replace the defaults (e.g.
    ``nox -s leaderboard -- --grid benchmarks/grids/demo2d.yaml --train-missing`` for the 2D tables alone)."""
    _install_all(session, "[dlib]")
    if not Path("data/demo/templates.pkl").is_file():
        session.run("talkzoo", "data", "demo", "--out", "data/demo")
    if not Path("data/demo2d/heldout_identity/meta.json").is_file():
        session.run("talkzoo", "data", "demo", "--family", "video", "--out", "data/demo2d", "--overwrite")
    args = session.posargs or ["--grid", "benchmarks/grids/demo.yaml", "--train-missing"]
    session.run("python", "benchmarks/leaderboard.py", *args, env={"HF_HUB_OFFLINE": "1"})


@nox.session
def animate_memory(session: nox.Session) -> None:
    """Peak memory of `talkzoo animate --image` with the tiny model, 1 vs 10 minutes of speech;
    writes benchmarks/results/animate_video_memory.json."""
    _install_all(session)
    session.run("python", "benchmarks/animate_video_memory.py", *session.posargs, env={"HF_HUB_OFFLINE": "1"})
