"""Peer virtual environments under ``.peers/<name>/``: pinned installs, reused once marked ``.ready``."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = ROOT / ".peers"
INSTALL_TIMEOUT = 900.0


@dataclass(frozen=True)
class Venv:
    """One peer's environment: what to install (pinned), what proves it works, what to print."""

    name: str
    requirements: tuple[str, ...]
    check: str  # a Python statement that must run without error in the finished venv
    show: tuple[str, ...]  # distributions whose installed versions are printed
    tracks_project: bool = False  # installs this project (editable): refresh when pyproject.toml changes

    @property
    def path(self) -> Path:
        return PEERS_DIR / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


VENVS = {
    v.name: v
    for v in (
        # The official SDK pins websockets<16, so it cannot share upbit_stream's environment.
        Venv("upbit-sdk", ("upbit-sdk==1.1.0", "websockets==15.0.1"), "import upbit",
             ("upbit-sdk", "websockets", "pydantic")),
        Venv("ccxt", ("ccxt==4.5.90",), "import ccxt.pro", ("ccxt", "aiohttp", "orjson")),
        # pyupbit leaves websockets unpinned; pin what a fresh install resolves to today.
        Venv("pyupbit", ("pyupbit==0.2.34", "websockets==17.4"), "import importlib.util as u; assert u.find_spec('pyupbit')",
             ("pyupbit", "websockets")),
        # websockets' trio implementation, plus this project (for ub.decode and, once it exists,
        # upbit_stream's own websockets transport).
        Venv("websockets-trio", ("websockets==17.4", "-e", str(ROOT)), "import websockets.trio.client, upbit_stream",
             ("websockets", "trio", "upbit-stream"), tracks_project=True),
    )
}


def _works(venv: Venv) -> bool:
    if not venv.python.exists():
        return False
    try:
        done = subprocess.run([str(venv.python), "-c", venv.check], capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def ensure(venv: Venv, log: Callable[[str], object] = print) -> Path:
    """Return the venv's python, installing it first unless ``.ready`` is there and it imports.

    Raises RuntimeError with the reason (the tail of pip's output) when the install fails.
    """
    ready = venv.path / ".ready"
    if ready.exists() and _works(venv):
        if venv.tracks_project and _project_changed(venv):
            _pip(venv, "install", "-e", str(ROOT))  # the project's dependencies may have changed
            (venv.path / ".project-hash").write_text(_project_hash())
        return venv.python
    if venv.path.exists():
        shutil.rmtree(venv.path)
    log(f"  installing {venv.name} into {venv.path.relative_to(ROOT)} ({' '.join(venv.requirements)}) ...")
    venv.path.mkdir(parents=True)
    install_log = venv.path / "install.log"
    steps = [
        [sys.executable, "-m", "venv", str(venv.path)],
        [str(venv.python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *venv.requirements],
    ]
    with install_log.open("w") as out:
        for step in steps:
            try:
                code = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT, check=False).returncode
            except subprocess.TimeoutExpired:
                code = -1
            if code != 0:
                lines = install_log.read_text(errors="replace").strip().splitlines()
                why = [line for line in lines if line.startswith("ERROR")][-1:] or lines[-1:] or ["no output"]
                raise RuntimeError(f"{' '.join(step[2:4])} failed: {why[0][:200]} (see {install_log})")
    if not _works(venv):
        raise RuntimeError(f"installed, but `{venv.check}` fails in {venv.python}")
    ready.write_text("\n".join(venv.requirements) + "\n")
    if venv.tracks_project:
        (venv.path / ".project-hash").write_text(_project_hash())
    return venv.python


def _project_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _project_changed(venv: Venv) -> bool:
    stamp = venv.path / ".project-hash"
    return not stamp.exists() or stamp.read_text().strip() != _project_hash()


def _pip(venv: Venv, *args: str) -> None:
    done = subprocess.run([str(venv.python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines()
        raise RuntimeError(f"pip {args[0]} failed: {(lines or ['no output'])[-1][:200]}")


def versions(python: Path | str, names: tuple[str, ...]) -> str:
    """``name==version`` of each installed distribution, as that interpreter sees them."""
    code = (
        "import importlib.metadata as m, sys\n"
        "out = []\n"
        "for n in sys.argv[1:]:\n"
        "    try: out.append(f'{n}=={m.version(n)}')\n"
        "    except m.PackageNotFoundError: out.append(f'{n}: not installed')\n"
        "print(', '.join(out))\n"
    )
    done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.strip() or done.stderr.strip()
