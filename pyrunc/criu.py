"""CRIU, the program: where it is, whether it can run on this kernel (`criu check`), and running
one of its commands (dump, pre-dump, restore) by its command line, with its log kept in the work
directory and its reason reported in one line. What to pass it is pyrunc.criu_plan's job."""
import os
import select
import shutil
import signal
import subprocess

from pyrunc import criu_plan
from pyrunc.errors import PyruncError

# How long one CRIU command may take before it is killed (a dump of a large container writes
# all of its memory; a stuck one must not hold the container's lock forever).
RUN_TIMEOUT = 600.0
CHECK_TIMEOUT = 30.0


class CriuError(PyruncError):
    """CRIU is missing, cannot run on this kernel, or one of its commands failed."""


def binary():
    return shutil.which("criu") or next(
        (p for p in ("/usr/sbin/criu", "/sbin/criu") if os.access(p, os.X_OK)), None)


def unusable_reason():
    """None when `criu check` passes here; otherwise why CRIU cannot run, in one line, in
    CRIU's own words."""
    path = binary()
    if path is None:
        return "criu is not installed"
    try:
        r = subprocess.run([path, "check"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=CHECK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"criu check did not finish within {CHECK_TIMEOUT:g} s"
    except OSError as e:
        return f"cannot run {path}: {e.strerror}"
    if r.returncode == 0:
        return None
    return "criu check: " + criu_plan.last_error(r.stdout + "\n" + r.stderr)


def version():
    """CRIU's version ("3.17.1"), or None when it is not installed."""
    path = binary()
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=CHECK_TIMEOUT).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def require():
    """The path of a CRIU that can run here, or CriuError with CRIU's reason."""
    reason = unusable_reason()
    if reason:
        raise CriuError(f"CRIU cannot run on this host: {reason}")
    return binary()


def run(args, work_dir, keep_fds=(), before_exec=None):
    """Run `criu ARGS` (args[0] is the command) and wait for it. keep_fds stay open in CRIU
    under their numbers (besides stdio); before_exec() runs in the child first (a private mount
    namespace for restore, say): its failure is reported as this command's. Raises CriuError
    with CRIU's reason and the path of its log, which stays."""
    path = require()
    verb = args[0]
    log_path = os.path.join(work_dir, criu_plan.LOG_NAMES[verb])
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # the child: only os calls and before_exec, then exec or _exit
        try:
            os.close(err_r)
            if before_exec is not None:
                before_exec()
            for fd in keep_fds:
                os.set_inheritable(fd, True)
            os.execv(path, [path, *args])
        except BaseException as e:  # noqa: B036 - nothing may escape a forked child
            try:
                os.write(err_w, str(e).encode(errors="replace")[:4000])
            finally:
                os._exit(127)
    os.close(err_w)
    try:
        failed = b""
        while True:
            chunk = os.read(err_r, 4096)
            if not chunk:
                break
            failed += chunk
    finally:
        os.close(err_r)
    status = _wait(pid, RUN_TIMEOUT)
    if failed:
        raise CriuError(f"criu {verb}: cannot start it: {failed.decode(errors='replace')}")
    if status is None:
        raise CriuError(f"criu {verb} did not finish within {RUN_TIMEOUT:g} s and was killed "
                        f"(log: {log_path})")
    if status != 0:
        raise CriuError(f"criu {verb} failed: {_reason(log_path, status)} (log: {log_path})")
    return log_path


def _wait(pid, timeout):
    """The exit status of our child pid (128+N when killed by signal N); None after timeout
    seconds, when it is killed."""
    pidfd = os.pidfd_open(pid)
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else \
        128 + os.WTERMSIG(status)


def _reason(log_path, status):
    try:
        with open(log_path, errors="replace") as f:
            text = f.read()
    except OSError:
        return f"it exited {status} and wrote no log"
    return criu_plan.last_error(text) or f"it exited {status}"
