"""Building the small C and Go programs that drive the user-space stacks (lwIP, libslirp, gVisor).

Their sources ship with tcpmodel (``tcpmodel/stacks/programs/``). A program is built on first use,
or ahead of it by ``tcpmodel stacks --install``, into a cache directory named after the hash of
its sources and build command, so an edited source is rebuilt and an unchanged one never is:
``$TCPMODEL_CACHE`` or ``~/.cache/tcpmodel``, under ``programs/<name>-<hash>/``. A build runs in
a temporary directory next to its target and is renamed into place only when it succeeded, so a
failed or interrupted build leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCES = Path(__file__).with_name("programs")


class BuildFailed(RuntimeError):
    """A program could not be built; the message says what is missing or what the compiler said."""


def cache_root() -> Path:
    return Path(os.environ.get("TCPMODEL_CACHE") or Path.home() / ".cache" / "tcpmodel")


def built_program(name: str, sources: list[str], command: list[str], output: str, env: dict | None = None) -> Path:
    """The path of program ``name`` built from ``sources`` (file names under ``programs/``) by
    ``command`` (run in a directory holding copies of the sources; ``{out}`` in it is replaced by
    the output path), building it now if the cache does not hold it."""
    digest = hashlib.sha256(repr(command).encode())
    for source in sources:
        digest.update(source.encode() + b"\0" + (SOURCES / source).read_bytes())
    target = cache_root() / "programs" / f"{name}-{digest.hexdigest()[:16]}"
    program = target / output
    if program.exists():
        return program
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        for source in sources:
            destination = work / source
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SOURCES / source, destination)
        argv = [part.replace("{out}", str(work / output)) for part in command]
        if shutil.which(argv[0]) is None:
            raise BuildFailed(f"building the {name} program needs `{argv[0]}`, which is not installed "
                              "(tcpmodel stacks --install installs it)")
        done = subprocess.run(argv, cwd=work, check=False, capture_output=True, text=True, env={**os.environ, **(env or {})})
        if done.returncode != 0:
            said = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            raise BuildFailed(f"building the {name} program failed: {' '.join(argv[:3])}...: "
                              + (said[0][:300] if said else f"exit status {done.returncode}"))
        try:
            work.rename(target)
        except OSError:  # another process built it meanwhile
            if not program.exists():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return program
