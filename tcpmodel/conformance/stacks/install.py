"""Installing what the stacks need: their Debian packages (apt-get, as root), their PyPI packages
(pip, into the running interpreter's environment) and their programs (``build``).

Each stack module names what it needs in ``DEBIAN_PACKAGES`` and ``PYPI_PACKAGES`` and builds its
program in ``prepare()``. ``install`` is what ``tcpmodel stacks --install`` and CI run; it is
idempotent (nothing is fetched or built twice) and stops at the first step that fails, saying
which.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


class InstallFailed(RuntimeError):
    """A package could not be installed or a program not built."""


def missing_debian(packages) -> list[str]:
    """The packages of ``packages`` that dpkg does not list as installed."""
    if not packages or shutil.which("dpkg-query") is None:
        return list(packages)
    missing = []
    for package in packages:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], check=False, capture_output=True, text=True)
        if done.returncode != 0 or "install ok installed" not in done.stdout:
            missing.append(package)
    return missing


def install(modules, say=print) -> None:
    """Install the Debian and PyPI packages of the stack ``modules``, then build their programs."""
    debian = sorted({p for m in modules for p in getattr(m, "DEBIAN_PACKAGES", ())})
    pypi = sorted({p for m in modules for p in getattr(m, "PYPI_PACKAGES", ())})
    missing = missing_debian(debian)
    if missing:
        if shutil.which("apt-get") is None:
            raise InstallFailed(f"these Debian packages are missing and there is no apt-get: {' '.join(missing)}")
        if os.geteuid() != 0:
            raise InstallFailed(f"installing Debian packages needs root: apt-get install {' '.join(missing)}")
        say(f"apt-get install {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
            done = subprocess.run(argv, check=False, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                said = [line for line in done.stderr.splitlines() if line.strip()][-1:]
                raise InstallFailed(f"{' '.join(argv[:2])} failed (exit status {done.returncode})" + (f": {said[0]}" if said else ""))
    if pypi:
        say(f"pip install {' '.join(pypi)}")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *pypi], check=False, capture_output=True, text=True)
        if done.returncode != 0:
            said = [line for line in done.stderr.splitlines() if line.strip()][-1:]
            raise InstallFailed(f"pip install {' '.join(pypi)} failed" + (f": {said[0]}" if said else ""))
    for module in modules:
        prepare = getattr(module, "prepare", None)
        if prepare is not None:
            say(f"build the {module.NAME} program")
            try:
                prepare()
            except Exception as exc:  # noqa: BLE001 - BuildFailed, OSError: one line each
                raise InstallFailed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
