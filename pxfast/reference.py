"""The reference environment: project-x-py 4.4.1 in a Python 3.12 venv, built on demand.

Compatibility tests and side-by-side benchmarks run the real project-x-py
next to pxfast.  project-x-py 4.4.1 needs Python >= 3.12, while pxfast
supports 3.11, so the reference lives in its own venv, made once from PyPI
and cached (under ``build/`` in a checkout, which is gitignored).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "PXPY_REQUIREMENT",
    "ReferenceUnavailable",
    "ensure_reference_venv",
    "find_python312",
    "reference_dir",
]

PXPY_REQUIREMENT = "project-x-py==4.4.1"


class ReferenceUnavailable(RuntimeError):
    """No Python 3.12 interpreter here, or the reference venv could not be built."""


def _version_of(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [*cmd, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    major, minor = out.stdout.split()
    return int(major), int(minor)


def _executable_of(cmd: Sequence[str], env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [*cmd, "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=True,
    )
    return out.stdout.strip()


def _pyenv_312_versions() -> list[str]:
    if shutil.which("pyenv") is None:
        return []
    out = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True)
    return [v.strip() for v in out.stdout.split() if v.strip().startswith("3.12")]


def find_python312() -> str | None:
    """The path of a Python >= 3.12 interpreter, or None.

    Looks at ``$PXFAST_PY312``, then ``python3.12`` and ``python3`` on PATH,
    then pyenv's installed 3.12 versions.
    """
    candidates: list[tuple[list[str], dict[str, str] | None]] = []
    explicit = os.environ.get("PXFAST_PY312")
    if explicit:
        candidates.append(([explicit], None))
    for name in ("python3.12", "python3"):
        if shutil.which(name):
            candidates.append(([name], None))
    for version in _pyenv_312_versions():
        candidates.append((["python3"], {**os.environ, "PYENV_VERSION": version}))
    for cmd, env in candidates:
        found = _version_of(cmd, env)
        if found is not None and found >= (3, 12):
            return _executable_of(cmd, env)
    return None


def reference_dir() -> Path:
    """Where the reference venv is cached.

    ``$PXFAST_REFERENCE_DIR`` if set; ``build/reference`` in a source checkout;
    else the user cache directory.
    """
    explicit = os.environ.get("PXFAST_REFERENCE_DIR")
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "ext").is_dir():
        return checkout / "build" / "reference"
    return Path.home() / ".cache" / "pxfast" / "reference"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_reference_venv(extra: Sequence[str] = ()) -> Path:
    """Build (or reuse) the reference venv and return its python executable.

    ``extra`` names more requirements to install next to project-x-py.  Safe
    to call from several processes at once: builds are serialized by a lock.
    Raises ``ReferenceUnavailable`` with the reason when it cannot.
    """
    base = reference_dir()
    venv = base / "venv"
    python = venv / "bin" / "python"
    wanted = "\n".join(sorted({PXPY_REQUIREMENT, *extra}))
    marker = venv / "pxfast-reference.txt"
    with _locked(base / ".lock"):
        if python.exists() and marker.exists() and marker.read_text() == wanted:
            return python
        interpreter = find_python312()
        if interpreter is None:
            raise ReferenceUnavailable(
                "no Python >= 3.12 interpreter found (project-x-py 4.4.1 needs one); "
                "set PXFAST_PY312 to its path"
            )
        if venv.exists():
            shutil.rmtree(venv)
        steps = [
            [interpreter, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", *wanted.split("\n")],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                raise ReferenceUnavailable(
                    f"building the reference venv failed at {step[:4]}: "
                    f"{(done.stderr or done.stdout)[-2000:]}"
                )
        marker.write_text(wanted)
    return python


if __name__ == "__main__":
    print(ensure_reference_venv(sys.argv[1:]))
