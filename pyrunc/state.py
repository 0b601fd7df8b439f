"""The state directory of one container: where it lives under --root, the lock that serialises
commands on it, the atomically written state.json, and the live status read from /proc.

Layout: <root>/<id>/state.json, <root>/<id>/exec.fifo (only while `created`). The lock is an
flock on the <id> directory itself, so locks of different containers never meet.
"""
import fcntl
import os
import time

from pyrunc import SPEC_VERSION, jsonio

from pyrunc.errors import (ContainerExistsError, ContainerNotFoundError, InvalidIdError,
                           PyruncError)

DEFAULT_ROOT = "/run/pyrunc"
STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
# The ring of post-mortems under the state root (postmortem.py): '@' is not allowed in an id,
# so it is never a container.
POSTMORTEMS = "@postmortems"

_ID_EXTRA_CHARS = frozenset("_+-.")

# How long a command waits for another command's lock on the same container before it gives up
# with an error naming the holder (see "Waits" in the README): commands on one container are
# serialised, and none waits forever behind a process that never lets go.
LOCK_TIMEOUT = 5.0

# state.json's schema, its one definition: every key pyrunc keeps there. save() refuses any
# other (a misspelt key would be written and never read back); the runtime-spec state that
# `state` prints is made from these by oci_state(). tests/unit/test_state_schema.py checks that
# every key the package reads or writes is here.
FIELDS = {
    "id": "the container's id",
    "bundle": "the bundle's absolute path",
    "rootfs": "bundle/root.path, as the config gives it",
    "created": "when create made the state dir (RFC 3339, UTC)",
    "owner": "the user that created it",
    "annotations": "config.annotations",
    "config": "the validated config.json, for exec, start's hooks, delete's poststop",
    "status_hint": "creating until create has finished, then created (checkpoint.py: running)",
    "pid": "the init's host pid, once known (0 or absent: still being created)",
    "pid_start": "the init's start time (/proc/PID/stat field 22): a recycled pid is not it",
    "cgroup_paths": "controller key -> the container's cgroup directory",
    "cgroups_created": "the cgroup directories create made, which delete removes",
    "trace": "the trace file of --trace or PYRUNC_TRACE_DIR (trace.py)",
    "host_mounts_at": "[rootfs, mounts there before create]: no mount namespace, so the init's "
                      "mounts land in the host's table and delete takes them off",
    "network": "the network attachment (network/attach.py), None while it is being made",
    "restored_from": "restore: the checkpoint image directory",
    "notify_socket": "NOTIFY_SOCKET pass-through: the host's socket start relays READY to",
    "net_devices": "linux.netDevices moved into the container: its netns file and the "
                   "devices, moved back on delete (network/netdevices.py)",
}

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
STOPPED = "stopped"
PAUSED = "paused"


def is_rootless(setting=None):
    """--rootless true|false|auto (auto, the default: when we are not root)."""
    if setting in ("true", True):
        return True
    if setting in ("false", False):
        return False
    return os.geteuid() != 0


def default_root(rootless):
    """/run/pyrunc for root; $XDG_RUNTIME_DIR/pyrunc (or /tmp/pyrunc-<uid>) for a user, as runc
    picks its own."""
    if not rootless:
        return DEFAULT_ROOT
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return os.path.join(runtime_dir, "pyrunc")
    return f"/tmp/pyrunc-{os.geteuid()}"


def validate_id(container_id):
    """runc accepts letters, digits, '_', '+', '-' and '.', but not '.' or '..' alone."""
    if (not container_id or container_id in (".", "..")
            or not all((c.isascii() and c.isalnum()) or c in _ID_EXTRA_CHARS for c in container_id)):
        raise InvalidIdError(f"invalid container id {container_id!r}: "
                             "use letters, digits and _ + - . only")
    if len(container_id) > 1024:
        raise InvalidIdError("invalid container id: longer than 1024 characters")


def write_atomic(path, data, mode=0o644):
    """Write bytes so that a reader sees the old file or the new one, never a torn one.
    No fsync: state lives on tmpfs (/run) and means nothing after a reboot."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def proc_start_time(pid):
    """Return (state letter, start time in clock ticks) of pid, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = stat[stat.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[19])


def process_matches(pid, start_time):
    """True if pid is alive (not a zombie) and is the process recorded, not a recycled pid."""
    if not pid:
        return False
    info = proc_start_time(pid)
    if info is None:
        return False
    letter, started = info
    return letter not in ("Z", "X") and started == start_time


class ContainerState:
    """One container's directory and its state.json, loaded or being created."""

    def __init__(self, root, container_id):
        validate_id(container_id)
        self.root = root
        self.id = container_id
        self.dir = os.path.join(root, container_id)
        self.data = {}
        self._lock_fd = None

    # -- the directory and its lock ------------------------------------------------------------

    def make(self):
        """Create the directory (the id is taken from this moment) and take its lock."""
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        if os.stat(self.root).st_uid != os.geteuid():
            # e.g. a /tmp/pyrunc-<uid> made by somebody else to catch our containers
            raise PyruncError(f"state root {self.root} is not ours: refusing to use it")
        try:
            os.mkdir(self.dir, 0o711)
        except FileExistsError:
            raise ContainerExistsError(self.id) from None
        self.lock()

    def lock(self, timeout=LOCK_TIMEOUT, on_busy=None):
        """Take the per-container lock, waiting at most timeout seconds for another holder;
        fails with ContainerNotFoundError if the directory disappears, LockBusyError when the
        wait runs out. on_busy(), if given, is called now and then while we wait (delete
        --force uses it to kill container processes that hold the lock)."""
        try:
            fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ContainerNotFoundError(self.id) from None
        try:
            if not flock_within(fd, timeout, on_busy):
                from pyrunc.locks import LockBusyError
                raise LockBusyError(f"container {self.id!r}", self.dir, timeout)
            # Another command may have deleted the container while we waited for its lock.
            try:
                same = os.stat(self.dir).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                raise ContainerNotFoundError(self.id)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    @property
    def locked(self):
        """Whether this process holds the container's lock."""
        return self._lock_fd is not None

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove(self):
        """Remove the state directory (the caller holds the lock)."""
        for name in os.listdir(self.dir):
            path = os.path.join(self.dir, name)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except IsADirectoryError:  # notify/ (notify.py): a socket, at most
                import shutil
                shutil.rmtree(path, ignore_errors=True)
        try:
            os.rmdir(self.dir)
        except FileNotFoundError:
            pass

    # -- state.json ----------------------------------------------------------------------------

    def load_existing(self):
        """load() a container that must exist: ContainerNotFoundError if it does not."""
        if not os.path.isdir(self.dir):
            raise ContainerNotFoundError(self.id)
        return self.load()

    def load(self):
        try:
            with open(os.path.join(self.dir, STATE_FILE), "rb") as f:
                self.data = jsonio.loads(f.read())
        except FileNotFoundError:
            if not os.path.isdir(self.dir):
                raise ContainerNotFoundError(self.id) from None
            self.data = {}  # a create in progress, or one killed before it wrote anything
        except ValueError as e:
            raise PyruncError(f"container {self.id!r}: corrupt state file: {e}") from None
        return self

    def save(self):
        unknown = self.data.keys() - FIELDS.keys()
        if unknown:  # a bug of pyrunc's, never of the user's: said loudly
            raise PyruncError(f"state.json: no field {', '.join(sorted(unknown))} (state.FIELDS)")
        # 0600: the state holds the config, and a config's env may hold secrets.
        write_atomic(os.path.join(self.dir, STATE_FILE), jsonio.dumps(self.data).encode(), 0o600)

    @property
    def fifo_path(self):
        return os.path.join(self.dir, EXEC_FIFO)

    @property
    def pid(self):
        return self.data.get("pid", 0)

    def status(self, paused=True):
        """The live status: read from the process, never trusted from the file alone.
        paused=False leaves out the freezer's look (a paused container then reads as running
        or created), for a caller to which it makes no difference: kill."""
        if not self.data.get("pid"):
            return CREATING
        if not process_matches(self.data["pid"], self.data.get("pid_start")):
            return STOPPED
        # Frozen first: a created container can be paused too, and must then read as paused
        # (resume takes only a paused one; start refuses it rather than wait for its init).
        if paused and self._frozen():
            return PAUSED
        if os.path.exists(self.fifo_path):
            return CREATED
        return RUNNING

    def _frozen(self):
        paths = self.data.get("cgroup_paths")
        if not paths:
            return False
        # The freezer module alone, not the cgroup manager: every command asks (~0.3 ms).
        from pyrunc.cgroups import freezer
        try:
            d = freezer.freezer_of(paths)
            return d is not None and freezer.is_frozen(d)
        except OSError:
            return False

    def oci_state(self):
        """The runtime-spec state object with runc's extra fields, and once the init is gone
        how it ended (exitStatus or exitSignal, oomKilled)."""
        status = self.status()
        d = self.data
        state = {
            "ociVersion": SPEC_VERSION,
            "id": self.id,
            "pid": d.get("pid", 0) if status not in (STOPPED,) else 0,
            "status": status,
            "bundle": d.get("bundle", ""),
            "rootfs": d.get("rootfs", ""),
            "created": d.get("created", ""),
            "owner": d.get("owner", ""),
            "annotations": d.get("annotations") or {},
        }
        if status == STOPPED and d.get("pid") and os.path.exists(
                os.path.join(self.dir, STATE_FILE)):
            # How the init ended, recorded the first time pyrunc sees it gone (exitrecord.py);
            # not once delete has removed the directory (its poststop hooks' state).
            from pyrunc import exitrecord
            state.update(exitrecord.state_keys(exitrecord.observe(self)))
        return state


def flock_within(fd, timeout, on_busy=None):
    """flock(LOCK_EX) on fd within timeout seconds: True once held, False when the time ran out.
    Polled (a blocking flock cannot be bounded without a signal, and signals reach only the
    main thread of an API caller); the first try costs one syscall, later ones back off from
    1 ms to 20 ms. on_busy() runs every 0.25 s of waiting."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    start = time.monotonic()
    deadline = start + timeout
    next_check = start + 0.25
    pause = 0.001
    while True:
        now = time.monotonic()
        if now >= deadline:
            return False
        if on_busy is not None and now >= next_check:
            on_busy()
            next_check = now + 0.25
        time.sleep(min(pause, max(0.0, deadline - now)))
        pause = min(pause * 2, 0.02)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            continue


def list_ids(root):
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n != POSTMORTEMS and os.path.isdir(os.path.join(root, n)))


def utc_now():
    """RFC 3339 with nanoseconds, as runc writes `created`."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"

