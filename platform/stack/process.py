"""A background service process managed through a PID file, a log file and a health check.

The process is started in its own session so it outlives the command that started it;
any later command finds it again through ``<dir>/<name>.pid``. A PID file whose process
is gone, or whose PID now belongs to a different program, is *stale* and is cleared.
Linux only (process identity is read from ``/proc``).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

LOG_TAIL_LINES = 40
_POLL_S = 0.1


class StackError(RuntimeError):
    """A local service could not be started, stopped or checked; the message says why."""


class PortInUseError(StackError):
    """The port a service needs is already taken by another program."""


HealthCheck = Callable[[], str]
"""Returns a short detail ("PONG", "3 topics") when healthy; raises when not."""


@dataclass(frozen=True)
class ProcessState:
    """What the PID file says, checked against the running processes."""

    pid: int | None
    state: str  # "running" | "stopped" | "stale"
    detail: str = ""


@dataclass
class ManagedProcess:
    """One service: the command that runs it in the foreground, where it listens, how to
    check it, and the folder holding its PID file and log."""

    name: str
    argv: list[str]
    host: str
    port: int
    workdir: Path
    health_check: HealthCheck
    config_files: dict[Path, str] = field(default_factory=dict)  # written before each start
    # False (``encore stack up``): the service outlives the command that started it.
    # True (tests, the demo): the kernel sends it SIGTERM when the starting process
    # dies, however it dies (an interrupted or killed pytest leaves nothing behind).
    tied_to_starter: bool = False

    @property
    def pid_file(self) -> Path:
        return self.workdir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}.log"

    # ---- inspection -------------------------------------------------------------------

    def inspect(self) -> ProcessState:
        """Read the PID file; a stale one is reported (not removed) as state "stale"."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except FileNotFoundError:
            return ProcessState(None, "stopped")
        except ValueError:
            return ProcessState(None, "stale", f"unreadable pid file {self.pid_file}")
        if not _alive(pid):
            return ProcessState(pid, "stale", f"pid {pid} from {self.pid_file} is gone")
        exe = _executable(pid)
        if exe != Path(self.argv[0]).resolve():
            return ProcessState(pid, "stale", f"pid {pid} is now {exe or 'another program'}")
        return ProcessState(pid, "running")

    def health(self) -> str:
        """The health check's detail; raises StackError when the service is unhealthy."""
        try:
            return self.health_check()
        except Exception as err:  # any client error means "not healthy", with the reason
            raise StackError(f"{self.name} on {self.host}:{self.port}: {err}") from err

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self, timeout_s: float) -> int:
        """Start the service unless it already runs, wait until healthy; return its PID."""
        current = self.inspect()
        if current.state == "running":
            return current.pid  # type: ignore[return-value]
        self.pid_file.unlink(missing_ok=True)
        ensure_port_free(self.host, self.port, self.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        for path, text in self.config_files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        with self.log_file.open("ab") as log:
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            log.write(f"--- {stamp} starting: {' '.join(self.argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI exiting and its Ctrl-C
                preexec_fn=_terminate_with_parent if self.tied_to_starter else None,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        self._wait_healthy(proc, timeout_s)
        return proc.pid

    def stop(self, timeout_s: float) -> bool:
        """SIGTERM, wait for a clean exit, SIGKILL only after ``timeout_s``.
        Returns True when a running process was stopped."""
        current = self.inspect()
        if current.state != "running":
            self.pid_file.unlink(missing_ok=True)
            return False
        pid = current.pid
        assert pid is not None
        _signal(pid, signal.SIGTERM)
        if not _wait_exit(pid, timeout_s):
            _signal(pid, signal.SIGKILL)
            if not _wait_exit(pid, 5.0):
                raise StackError(f"{self.name} (pid {pid}) did not exit after SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        return True

    def _wait_healthy(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last_error = "not checked yet"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise StackError(
                    f"{self.name} exited with code {proc.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            if _port_open(self.host, self.port):
                try:
                    self.health()
                    return
                except StackError as err:
                    last_error = str(err)
            else:
                last_error = f"port {self.host}:{self.port} not accepting connections yet"
            time.sleep(_POLL_S * 2)
        self.stop(timeout_s=5.0)
        raise StackError(
            f"{self.name} not healthy after {timeout_s:.0f}s ({last_error}); "
            f"last lines of {self.log_file}:\n{self.log_tail()}"
        )


def _terminate_with_parent() -> None:
    """In the forked child: ask Linux for SIGTERM when the parent exits (prctl
    PR_SET_PDEATHSIG), then check the parent did not exit before the request."""
    import ctypes

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it) for a private service."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_port_free(host: str, port: int, service: str) -> None:
    """Raise PortInUseError when something already listens on (host, port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: a port left in TIME_WAIT by our own stopped service is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
            raise PortInUseError(
                f"port {port} on {host} is already in use by another program, so {service} "
                f"cannot start; stop that program or pick another port in the stack config "
                f"(stack.{service}_port)"
            ) from err


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        # Reap it first if it is our own exited child (tests start and stop in-process).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _executable(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True
