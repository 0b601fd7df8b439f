"""The hang detector: every pyrunc command the tests run goes through run_bounded (Runtime calls
it), which gives the command a timeout. A command still running then fails the test with what
every live pyrunc process is doing: its Python stack (py-spy dump, which needs nothing from the
runtime: pyrunc itself reads no test switch for this), its kernel stack and wait channel. So a
hang is reported where it happens, not as a bare "timed out".

pyrunc's processes are found by their command line: the launcher's path (`PYRUNC`) is in it for
the command and for the children it forks until they exec the container's program.
"""
import os
import shutil
import subprocess
import sys

# The launcher the tests run (tests/conftest.py finds it on PATH the same way).
PYRUNC = shutil.which("pyrunc") or "/usr/local/bin/pyrunc"
# py-spy comes with the test extras (pyproject.toml), next to the venv's python.
PY_SPY = (shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy"))
# At most this many processes are dumped (each dump takes ~0.1 s).
MAX_DUMPS = 24


class HangError(AssertionError):
    """A pyrunc command did not end within its bound."""


def run_bounded(argv, timeout=60, input=None, capture_output=False, check=False, **kw):
    """subprocess.run with a timeout that, when it expires, fails with the stacks of every
    pyrunc process (taken while the command is still alive, before it is killed)."""
    if capture_output:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
    if input is not None:
        kw["stdin"] = subprocess.PIPE
    proc = subprocess.Popen(argv, **kw)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise hang_error(proc, timeout) from None
    except BaseException:
        _kill(proc)
        raise
    result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if check:
        result.check_returncode()
    return result


def wait_bounded(proc, timeout):
    """proc.wait(timeout) for a Popen of pyrunc, with the same report when it does not end."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise hang_error(proc, timeout) from None


def hang_error(proc, timeout, detail=""):
    """The HangError for proc (a Popen still running): stacks first, then proc is killed."""
    args = proc.args if isinstance(proc.args, str) else " ".join(map(str, proc.args))
    report = stacks(first=proc.pid)
    _kill(proc)
    return HangError(f"`{args}` did not end within {timeout} s{': ' + detail if detail else ''}"
                     f"\n--- live pyrunc processes ---\n{report}")


def _kill(proc):
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        pass


def pyrunc_pids():
    """Live processes whose command line names the pyrunc launcher (commands, their stage1s
    and inits until exec), oldest first."""
    needle = PYRUNC.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if needle in cmdline and stat[stat.rindex(b")") + 2:].split()[0] not in (b"Z", b"X"):
            found.append(int(entry))
    return sorted(found)


def stacks(first=None):
    """A text report of every live pyrunc process: command line, state, wait channel, kernel
    stack and Python stack (py-spy). first: the process to put at the top."""
    pids = pyrunc_pids()
    if first in pids:
        pids.remove(first)
    if first is not None:
        pids.insert(0, first)
    parts = []
    for pid in pids[:MAX_DUMPS]:
        parts.append(describe(pid))
    if len(pids) > MAX_DUMPS:
        parts.append(f"... and {len(pids) - MAX_DUMPS} more: {pids[MAX_DUMPS:]}")
    return "\n".join(parts) or "(none alive)"


def describe(pid):
    def read(name):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""
    cmdline = read("cmdline").replace("\0", " ").strip()
    status = dict(line.split(":\t", 1) for line in read("status").splitlines() if ":\t" in line)
    text = [f"== pid {pid} [{status.get('State', '?').strip()}] wchan={read('wchan') or '?'} "
            f"nspid={status.get('NSpid', '?').strip()}: {cmdline}"]
    kernel = read("stack").strip()
    if kernel:
        text.append("kernel stack:\n  " + kernel.replace("\n", "\n  "))
    text.append(python_stack(pid))
    return "\n".join(text)


def python_stack(pid):
    if PY_SPY is None:
        return "(no py-spy: install the test extras for Python stacks)"
    try:
        result = subprocess.run([PY_SPY, "dump", "--pid", str(pid)], capture_output=True,
                                text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return "(py-spy dump timed out)"
    except OSError as e:
        return f"(py-spy: {e})"
    return (result.stdout or result.stderr).strip()

