"""A fork server for the PyTCP program: it imports PyTCP once and forks one program per vector.

Python takes about a third of a second to import PyTCP, longer than most vectors run, so a fresh
interpreter per vector would spend minutes of a conformance run importing. The zygote is started
once by ``tcpmodel.conformance.stacks.pytcp`` as ``python zygote.py CONTROL_FD``, CONTROL_FD being one end of
a ``socketpair(AF_UNIX, SOCK_SEQPACKET)``. It imports PyTCP and this directory's ``program``,
sends ``ready``, and then serves requests, one message each: the program's five arguments (a
JSON list) with five descriptors (SCM_RIGHTS): the program's standard input, output and error,
its packet socket, and the write end of a status pipe.

For each request the zygote forks. The child starts a session of its own (the harness kills it
with ``killpg`` like any program it started), puts the descriptors in place (0, 1, 2, and the
packet socket at 3), closes every other, draws PyTCP's per-process secrets afresh (they are drawn
at import, which happened once, here) and runs ``program.main``, which never returns. The zygote
answers with the child's pid and, when the child has exited, writes its exit code (as
``subprocess`` reports it: negative for a signal) to the status pipe and closes it.

When the control socket closes (the harness finished or died), the zygote kills the children
still running and exits. It is single-threaded, so forking it is safe.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import signal
import socket
import sys

PACKET_FD = 3
DESCRIPTORS = 5  # stdin, stdout, stderr, packet socket, status pipe
MESSAGE_BYTES = 4096


def serve(control: socket.socket) -> None:
    import pmd_pytcp.socket
    import pmd_pytcp.stack  # noqa: F401
    import program  # noqa: F401 - imported here once, for every child (it imports PyTCP on use)

    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup descriptor is written
    children: dict[int, int] = {}  # pid -> the status pipe's write end
    control.sendall(b"ready")
    try:
        while True:
            ready, _, _ = select.select([control, wake_read], [], [])
            if wake_read in ready:
                while True:
                    try:
                        os.read(wake_read, 512)
                    except BlockingIOError:
                        break
            reap(children)
            if control in ready:
                message, descriptors, _, _ = socket.recv_fds(control, MESSAGE_BYTES, DESCRIPTORS)
                if not message:
                    return
                pid = fork(json.loads(message), descriptors)
                children[pid] = descriptors[4]
                for descriptor in descriptors[:4]:
                    os.close(descriptor)
                control.sendall(str(pid).encode())
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def reap(children: dict[int, int]) -> None:
    """Report the children that have exited, each on its status pipe."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        descriptor = children.pop(pid, None)
        if descriptor is not None:
            with contextlib.suppress(OSError):
                os.write(descriptor, str(os.waitstatus_to_exitcode(status)).encode())
            os.close(descriptor)


def fork(arguments: list[str], descriptors: list[int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        stdin, stdout, stderr, packets, _status = descriptors
        for descriptor, target in ((stdin, 0), (stdout, 1), (stderr, 2), (packets, PACKET_FD)):
            os.dup2(descriptor, target)
        os.closerange(PACKET_FD + 1, os.sysconf("SC_OPEN_MAX"))  # the sources, the zygote's own, the rest
        fresh_secrets()
        import program

        program.main([str(PACKET_FD), *arguments[1:]])
    except BaseException as exc:  # noqa: BLE001 - the child must never return into the zygote's loop
        with contextlib.suppress(OSError):
            os.write(2, f"pytcp zygote child failed: {type(exc).__name__}: {exc}\n".encode())
    os._exit(1)


def fresh_secrets() -> None:
    """PyTCP draws its ISN, Fast Open, flow-label and port secrets when imported; a forked
    child would share the zygote's, so it draws its own, as a fresh process does."""
    from pmd_pytcp import stack

    for name in ("TCP__ISS_SECRET", "IP6__FLOW_SECRET", "TCP__FASTOPEN_SECRET", "TCP__PORT_SECRET"):
        setattr(stack, name, secrets.token_bytes(16))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: zygote.py CONTROL_FD", file=sys.stderr)
        return 2
    control = socket.socket(fileno=int(argv[0]))
    try:
        serve(control)
    finally:
        control.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
