"""A trace of what the init path did: every primitive (mount, unshare, setns, mknod, cgroup
write, setrlimit, capset, execve...) with its arguments, result and duration, as JSON lines,
from every process of the init path (the parent, stage1, the init), all appending to one file.

Turned on by `create --trace FILE` (or `run --trace FILE`), or for every container of a bundle
by the annotation `pyrunc.trace: FILE`. Off, it costs nothing: nothing here is imported and no
call goes through it. On, install() replaces the primitives by wrappers, as module attributes
(every caller looks them up at call time: native.mount, os.mknod...), before the parent forks,
so stage1 and the init inherit them; a fork handler tells which process a line comes from.
The file's fd is close-on-exec: the container's program never sees it.

A line: {"pid", "who": parent|stage1|init, "op", the op's arguments, "result": "ok" or the
error, "us": microseconds}. "op" names and arguments are those of explain.py's plan, so the
two can be held side by side (explain.match).
"""
import os
import time

from pyrunc import jsonio

_state = {"fd": -1, "who": "parent", "rootfs": "", "saved": [], "forks": ("stage1", "init"),
          "path": None}


def _emit(record):
    fd = _state["fd"]
    if fd < 0:
        return
    record["pid"] = os.getpid()
    record["who"] = _state["who"]
    try:
        os.write(fd, (jsonio.dumps(record) + "\n").encode())
    except OSError:
        pass  # a seccomp profile that denies write, a full disk: the trace loses a line


def _where(path):
    """A path as the container names it: /proc/self/fd/N (safepath's targets) resolved, and
    the rootfs's prefix taken off while the rootfs is not yet /."""
    if path is None:
        return None
    path = os.fsdecode(path)
    if path.startswith("/proc/self/fd/"):
        try:
            path = os.readlink(path)
        except OSError:
            return path
    rootfs = _state["rootfs"]
    if rootfs and (path == rootfs or path.startswith(rootfs + "/")):
        path = path[len(rootfs):] or "/"
    return path


def _in_dir(dir_fd, name):
    if dir_fd is None:
        return _where(name)
    try:
        return _where(os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), name))
    except OSError:
        return name


def _traced(op, call, describe):
    """call wrapped: describe(*args, **kw) gives the op's arguments for the line."""
    def wrapper(*args, **kw):
        try:
            record = {"op": op, **describe(*args, **kw)}
        except Exception:  # noqa: BLE001 - a trace never changes what is done
            record = {"op": op}
        if op == "execve":  # a successful execve does not return
            record["result"] = "called"
            _emit(record)
        start = time.monotonic_ns()
        try:
            result = call(*args, **kw)
        except BaseException as e:
            record["result"] = (f"{getattr(e, 'strerror', None) or e} (errno "
                                f"{getattr(e, 'errno', None)})")
            record["us"] = (time.monotonic_ns() - start) // 1000
            _emit(record)
            raise
        record["result"] = "ok"
        record["us"] = (time.monotonic_ns() - start) // 1000
        if op != "execve":
            _emit(record)
        return result
    wrapper.traced = call
    return wrapper


def _namespace_names(flags):
    from pyrunc.names import NAMESPACES
    return ",".join(sorted(k for k, (flag, _) in NAMESPACES.items() if flags & flag))


def _primitives():
    """(owner, attribute, op, describe) of everything traced."""
    import resource

    from pyrunc import fdmount, native, process_setup
    from pyrunc.mountopts import MS_BIND, MS_RDONLY
    from pyrunc.cgroups import device_filter
    from pyrunc.cgroups.files import CgroupDir
    from pyrunc.cgroups.manager import ContainerCgroup
    from pyrunc.names import NAMESPACES

    def mount(source, target, fstype, flags=0, data=None):
        return {"source": _where(source) if source and str(source).startswith("/") else source,
                "target": _where(target), "fstype": fstype or "", "flags": flags,
                "data": data or ""}

    return (
        (native, "mount", "mount", mount),
        # binds and tmpfs by fd (the new mount API: masks, /dev/console), as mount lines
        (fdmount, "bind_fd", "mount", lambda source_fd, target_fd: {
            "source": _where(f"/proc/self/fd/{source_fd}"),
            "target": _where(f"/proc/self/fd/{target_fd}"), "fstype": "", "flags": MS_BIND,
            "data": ""}),
        (fdmount, "readonly_tmpfs_on", "mount", lambda target_fd: {
            "source": "tmpfs", "target": _where(f"/proc/self/fd/{target_fd}"),
            "fstype": "tmpfs", "flags": MS_RDONLY, "data": ""}),
        (native, "umount2", "umount", lambda target, flags=0: {"target": _where(target),
                                                                "flags": flags}),
        (native, "pivot_root", "pivot_root", lambda new, old: {}),
        (native, "unshare", "unshare", lambda flags: {"flags": _namespace_names(flags)}),
        (native, "setns", "setns", lambda fd, nstype=0: {
            "kind": next((k for k, (f, _) in NAMESPACES.items() if f == nstype), str(nstype))}),
        (native, "sethostname", "sethostname", lambda name: {"name": name}),
        (native, "setdomainname", "setdomainname", lambda name: {"name": name}),
        (native, "capset", "capset", lambda e, p, i: {"effective": hex(e), "permitted": hex(p),
                                                       "inheritable": hex(i)}),
        (native, "prctl", "prctl", lambda option, *a: {"option": option, "args": list(a)}),
        (native.SeccompFilter, "load", "seccomp", lambda self: {}),
        (os, "mknod", "mknod", lambda name, mode=0o600, device=0, *, dir_fd=None: {
            "path": _in_dir(dir_fd, name), "mode": mode, "device": [os.major(device),
                                                                    os.minor(device)]}),
        (os, "symlink", "symlink", lambda src, dst, target_is_directory=False, *, dir_fd=None: {
            "path": _in_dir(dir_fd, dst), "to": src}),
        (os, "mkdir", "mkdir", lambda path, mode=0o777, *, dir_fd=None: {
            "path": _in_dir(dir_fd, path)}),
        (os, "chroot", "chroot", lambda path: {"path": path}),
        (os, "setresuid", "setresuid", lambda r, e, s: {"ids": [r, e, s]}),
        (os, "setresgid", "setresgid", lambda r, e, s: {"ids": [r, e, s]}),
        (os, "setgroups", "setgroups", lambda groups: {"groups": list(groups)}),
        (os, "execve", "execve", lambda path, args, env: {"path": path, "args": list(args)}),
        (resource, "setrlimit", "setrlimit", lambda kind, limits: {
            "kind": _rlimit_name(kind), "limits": list(limits)}),
        (process_setup, "enter_cwd", "chdir", lambda _kernel, cwd: {"path": cwd}),
        (CgroupDir, "write", "cgroup-write", lambda self, name, value, field: {
            "path": f"{self.path}/{name}", "value": value, "field": field}),
        (ContainerCgroup, "join", "cgroup-join", lambda self, pid: {"process": pid}),
        (device_filter, "install", "cgroup-device-program", lambda path, rules: {
            "path": path, "rules": len(rules)}),
    )


def _rlimit_name(number):
    from pyrunc.names import RLIMITS
    return next((k for k, v in RLIMITS.items() if v == number), str(number))


def _after_fork():
    """In a child: the parent's child is stage1, stage1's is the init; later children (hooks'
    subprocesses, which exec at once) are the init's."""
    forks = _state["forks"]
    if forks:
        _state["who"], _state["forks"] = forks[0], forks[1:]


_fork_handler_registered = []


def install(path, rootfs, follow=True):
    """Start tracing this process (and the children it forks from now on) into path (not
    through a symlink unless follow)."""
    if _state["fd"] >= 0:
        return
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    _state["fd"] = os.open(path, flags if follow else flags | os.O_NOFOLLOW, 0o600)
    _state.update(who="parent", rootfs=rootfs, forks=("stage1", "init"), path=path)
    for owner, name, op, describe in _primitives():
        original = getattr(owner, name)
        _state["saved"].append((owner, name, original))
        setattr(owner, name, _traced(op, original, describe))
    from pyrunc import native
    close_range = native.close_range
    _state["saved"].append((native, "close_range", close_range))
    native.close_range = _keeping_trace_fd(close_range)
    if not _fork_handler_registered:
        os.register_at_fork(after_in_child=_after_fork)
        _fork_handler_registered.append(True)


def _keeping_trace_fd(close_range):
    """stage1 closes every fd it inherited (CVE-2024-21626): all but the trace's, which its
    children write to (close-on-exec: the program never gets it)."""
    def wrapper(first, last=0xFFFFFFFF, flags=0):
        fd = _state["fd"]
        if fd < 0 or not first <= fd <= last:
            return close_range(first, last, flags)
        if fd > first:
            close_range(first, fd - 1, flags)
        if fd < last:
            close_range(fd + 1, last, flags)
        return None
    return wrapper


def uninstall():
    """Put the primitives back (an API caller's process goes on after create)."""
    for owner, name, original in reversed(_state["saved"]):
        setattr(owner, name, original)
    _state["saved"] = []
    _state["forks"] = ()
    if _state["fd"] >= 0:
        os.close(_state["fd"])
        _state["fd"] = -1


def last_path():
    """The file this process traced into last (for a post-mortem), or None."""
    return _state["path"]


def read(path, limit=100000):
    """The trace's lines as dicts (unreadable lines skipped)."""
    out = []
    try:
        with open(path, "rb") as f:
            for line in f.read(16 << 20).splitlines()[:limit]:
                try:
                    out.append(jsonio.loads(line))
                except ValueError:
                    continue
    except OSError:
        return []
    return out
