"""How a detached container's init ended: its exit status or the signal that killed it, and
whether the kernel's OOM killer did it, kept in <state dir>/exit.json and shown by `state` (as
extra keys, which runtime-spec allows and engines ignore) and by `explain ID`.

There is no monitor process in runc's model: the init is reparented to the engine's subreaper
(conmon, containerd's shim) or to the host's init, which reaps it. So the record is made when
pyrunc next looks at a container whose init is gone (`state`, `list`, `kill`): the status
comes from the zombie's /proc/<pid>/stat while its reaper has not collected it yet, and the
OOM kill from the container's memory cgroup, which outlives the init until `delete` (v1
memory.oom_control oom_kill, v2 memory.events oom_kill). Whatever is known is written once
and kept; a status reaped before pyrunc looked is not known.
"""
import fcntl
import os

from pyrunc import jsonio

RECORD_FILE = "exit.json"
_STAT_EXIT_CODE = 52  # /proc/<pid>/stat field of the wait status (proc(5), Linux 3.5+)


def zombie_wait_status(pid, start_time):
    """The wait status of pid if it is the recorded process and a zombie not yet reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    # fields[0] is field 3 of proc(5)
    if fields[0] != b"Z" or int(fields[19]) != start_time or len(fields) < _STAT_EXIT_CODE - 2:
        return None
    return int(fields[_STAT_EXIT_CODE - 3])


def decode(wait_status):
    """{"exitStatus": n} or {"signal": n, "signalName": "SIGKILL", "coreDumped": bool}."""
    sig = wait_status & 0x7F
    if sig == 0:
        return {"exitStatus": (wait_status >> 8) & 0xFF}
    return {"signal": sig, "signalName": signal_name(sig), "coreDumped": bool(wait_status & 0x80)}


def signal_name(number):
    import _signal
    for name in dir(_signal):
        if name.startswith("SIG") and not name.startswith("SIG_") and "RT" not in name \
                and getattr(_signal, name) == number:
            return name
    return str(number)


def load(state_dir):
    try:
        fd = os.open(os.path.join(state_dir, RECORD_FILE), os.O_RDONLY | os.O_NOFOLLOW
                     | os.O_CLOEXEC)
        try:
            return jsonio.loads(os.read(fd, 1 << 16))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return None


def observe(st):
    """The exit record of a container whose init is no longer alive (st: a loaded
    ContainerState), made now if it was not: from the zombie's status, else whatever the
    cgroup still tells. Saved once the status is known (an OOM kill seen without a status is
    saved too, and completed if the status turns up later)."""
    saved = load(st.dir)
    if saved is not None and ("exitStatus" in saved or "signal" in saved):
        return saved
    record = dict(saved or {})
    status = zombie_wait_status(st.data.get("pid"), st.data.get("pid_start"))
    if status is not None:
        record.update(decode(status))
    kills = _oom_kills(st.data.get("cgroup_paths"))
    if kills is not None:
        record["oomKills"] = max(kills, record.get("oomKills", 0))
    if record:
        record["oomKilled"] = bool(record.get("oomKills")) and record.get("signal") in (None, 9)
        if record != saved:
            save(st, record)
    return record


def _oom_kills(cgroup_paths):
    if not cgroup_paths:
        return None
    from pyrunc.cgroups import ContainerCgroup
    try:
        return ContainerCgroup(cgroup_paths).oom_kills()
    except (OSError, ValueError):
        return None  # the cgroup is gone (delete is removing it)


def save(st, record):
    """Written under the container's lock, taken only if it is free at once (or already ours):
    `state` must never wait, and a delete in progress is removing the directory anyway. Only
    in a state dir of ours, through its fd: a read verb must not write where it is led."""
    try:
        fd = os.open(st.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            return
        if not st.locked:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.stat("state.json", dir_fd=fd)  # not a directory delete is emptying
        tmp = f"{RECORD_FILE}.tmp{os.getpid()}"
        try:
            os.unlink(tmp, dir_fd=fd)  # a leftover of a killed writer
        except FileNotFoundError:
            pass
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600, dir_fd=fd)
        try:
            os.write(out, jsonio.dumps(record).encode())
        finally:
            os.close(out)
        os.rename(tmp, RECORD_FILE, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError:
        pass  # busy or gone: the next look records it
    finally:
        os.close(fd)


def state_keys(record):
    """The extra keys `state` shows (runtime-spec allows them; engines ignore them)."""
    if not record:
        return {}
    out = {}
    if "exitStatus" in record:
        out["exitStatus"] = record["exitStatus"]
    if "signal" in record:
        out["exitSignal"] = record.get("signalName") or record["signal"]
    if "oomKilled" in record:
        out["oomKilled"] = record["oomKilled"]
    return out
