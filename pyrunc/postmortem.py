"""Post-mortems: why a `create`, `run`, `start` or `exec` failed, kept after the command (and
the container it was making) is gone, for `pyrunc explain ID` to show when the engine that
called pyrunc swallowed the message.

They live in a bounded ring under the state root, <root>/@postmortems/, one JSON file a
failure: the last MAX_RECORDS failures and at most MAX_BYTES in all (the oldest go first).
'@' is not allowed in a container id, so the ring is never taken for a container: the id of a
failed create stays free, `list` does not show it, `delete` never meets it. A record holds the
verb, the failing step, errno, the config field, the one-line message, the checkpoints the
parent had reached (protocol.py) and, with a trace (trace.py), its last lines.

Recording never fails the command: a ring that cannot be written loses that post-mortem, and
the error the user sees is the real one.
"""
import os
import time

from pyrunc import jsonio
from pyrunc.state import POSTMORTEMS as DIR_NAME, utc_now
MAX_RECORDS = 32
MAX_BYTES = 256 * 1024
MAX_TEXT = 2000      # characters kept of a message
TRACE_LINES = 20     # last lines of the trace kept
_ID_IN_NAME = 100    # characters of the id in the file name (the record holds all of it)

# The step a failure is put at when the error carries none of its own.
_DEFAULT_STEPS = {
    "ConfigError": "validating the config",
    "CgroupError": "cgroups",
    "CgroupsLeftError": "cgroups",
    "HookError": "hooks",
    "NetworkError": "network",
    "SettingsError": "network settings",
    "InitTimeout": "waiting for the init",
    "LockBusyError": "taking the container's lock",
    "StateError": "checking the container's state",
}


# The config field behind a step of the init path (init.py, process_setup.py names the steps),
# for errors that carry a step and no field.
_STEP_FIELDS = (
    ("executable", "process.args"), ("exec", "process.args"), ("cwd", "process.cwd"),
    ("rlimits", "process.rlimits"), ("user", "process.user"),
    ("capabilities", "process.capabilities"), ("noNewPrivileges", "process.noNewPrivileges"),
    ("oomScoreAdj", "process.oomScoreAdj"), ("seccomp", "linux.seccomp"),
    ("ioPriority", "process.ioPriority"), ("terminal", "process.terminal"),
    ("mounting the rootfs", "mounts"), ("read-only and masked paths",
                                        "linux.readonlyPaths, linux.maskedPaths"),
    ("sethostname", "hostname"), ("setdomainname", "domainname"),
    ("createContainer hooks", "hooks.createContainer"),
    ("waiting for prestart and createRuntime hooks", "hooks.prestart, hooks.createRuntime"),
    ("creating the user namespace", "linux.uidMappings"), ("setting time offsets",
                                                           "linux.timeOffsets"),
)


def field_of_step(step):
    """The config field a failing step of the init path points at, or None."""
    if not step:
        return None
    if step.startswith("sysctl "):
        return "linux.sysctl." + step[len("sysctl "):]
    if step.startswith("joining the ") and step.endswith(" namespace"):
        return f"linux.namespaces.{step.split()[2]}.path"
    for prefix, field in _STEP_FIELDS:
        if step == prefix or step.startswith(prefix + " "):
            return field
    return None


def describe(verb, container_id, exc, checkpoints=(), trace_path=None, message=None):
    """The record for a failure (a plain dict); message: the one line the user was shown,
    when it is not str(exc)."""
    # A wrapper (exec's ExecFailedError, raised from the InitError) says less than its cause.
    cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
    if getattr(exc, "step", None) or getattr(exc, "field", None):
        cause = exc
    step = getattr(cause, "step", None) or _DEFAULT_STEPS.get(type(cause).__name__, verb)
    record = {
        "id": container_id,
        "verb": verb,
        "time": utc_now(),
        "error": type(cause).__name__,
        "message": (message or str(exc))[:MAX_TEXT],
        "step": step,
        "errno": getattr(cause, "errno", 0) or 0,
        "field": getattr(cause, "field", None) or field_of_step(step),
        "checkpoints": list(checkpoints),
    }
    if trace_path:
        record["trace"] = _last_lines(trace_path, TRACE_LINES)
    return record


def record(root, verb, container_id, exc, checkpoints=(), trace_path=None, message=None):
    """Keep the post-mortem of a failed verb; returns the file's name in the ring, or None if
    it could not be written."""
    data = jsonio.dumps(describe(verb, container_id, exc, checkpoints, trace_path,
                                 message)).encode()
    ring = _open_ring(root, create=True)
    if ring is None:
        return None
    try:
        name = f"{time.time_ns():020d}-{os.getpid()}-{container_id[:_ID_IN_NAME]}.json"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=ring)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        prune(ring)
        return name
    except OSError:
        return None
    finally:
        os.close(ring)


def _open_ring(root, create=False):
    """An fd of the ring's directory, or None. Only a state root and a ring that are ours
    (owned by our euid, no symlink on the way) are used: a root somebody else made (a
    /tmp/pyrunc-<uid> planted to catch us) must not get our files, nor have its files pruned."""
    try:
        if create:
            os.makedirs(root, mode=0o711, exist_ok=True)  # as the state's own make() does
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.fstat(root_fd).st_uid != os.geteuid():
            return None
        if create:
            try:
                os.mkdir(DIR_NAME, 0o700, dir_fd=root_fd)
            except FileExistsError:
                pass
        ring = os.open(DIR_NAME, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                       dir_fd=root_fd)
    except OSError:
        return None
    finally:
        os.close(root_fd)
    if os.fstat(ring).st_uid != os.geteuid():
        os.close(ring)
        return None
    return ring


def _is_record(name):
    """One of our files: <20 digits>-<pid>-<id>.json (nothing else in the ring is touched)."""
    return len(name) > 26 and name[:20].isdigit() and name[20] == "-" and name.endswith(".json")


def record_unfinished_create(root, container_id, data):
    """A create whose pyrunc died (killed by its engine's timeout, the OOM killer...) leaves no
    error behind: `delete` finds its state at `creating` with nobody holding the lock, and
    keeps what the state dir tells of how far it got."""
    from pyrunc.errors import PyruncError
    progress = ["state-dir"]
    if data.get("cgroup_paths") is not None:
        progress.append("state.json written")
    if data.get("pid"):
        progress.append(f"init forked (pid {data['pid']})")
    exc = PyruncError("create did not finish: the pyrunc that ran it died or was killed before "
                      "the container was created (found by delete)")
    exc.step = "create did not finish"
    return record(root, "create", container_id, exc, progress)


def prune(ring, max_records=MAX_RECORDS, max_bytes=MAX_BYTES):
    """Remove the oldest records beyond the ring's bounds (ring: the directory's fd; two
    pruning at once is fine)."""
    entries = []
    for name in sorted(n for n in os.listdir(ring) if _is_record(n)):
        try:
            entries.append((name, os.stat(name, dir_fd=ring, follow_symlinks=False).st_size))
        except FileNotFoundError:
            continue
    total = sum(size for _name, size in entries)
    while entries and (len(entries) > max_records or total > max_bytes):
        name, size = entries.pop(0)
        total -= size
        try:
            os.unlink(name, dir_fd=ring)
        except FileNotFoundError:
            pass


def for_id(root, container_id):
    """The post-mortems of container_id, newest first."""
    ring = _open_ring(root)
    if ring is None:
        return []
    found = []
    try:
        for name in sorted((n for n in os.listdir(ring) if _is_record(n)), reverse=True):
            if container_id[:_ID_IN_NAME] not in name:
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=ring)
                try:
                    data = jsonio.loads(os.read(fd, MAX_BYTES))
                finally:
                    os.close(fd)
            except (OSError, ValueError):
                continue
            if data.get("id") == container_id:
                found.append(data)
    finally:
        os.close(ring)
    return found


def _last_lines(path, count):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    return [line[:500] for line in lines[-count:]]
