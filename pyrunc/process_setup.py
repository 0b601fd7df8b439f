"""Turning the current (forked) process into config.process, for the container's init and for
`exec` alike: rlimits, oom score, umask, no_new_privs, seccomp, user and groups, capabilities,
cwd, environment, the executable found on the container's PATH, and the final execve.

The defences against runc's CVE classes are functions of their own, each called where its check
belongs: refuse_runtime_binary, refuse_magic_links (the program), refuse_cwd_outside_root and
close_on_exec_past (fds). They have no off switch; the tests' double of pyrunc
(tests/pyrunc_faulty.py) replaces them to show the attack each one stops."""
import errno
import os
import resource

from pyrunc import capabilities, native, names

# pyrunc.lsm, scheduling and seccomp are imported where a process uses them, and before the
# fork by init.import_child_modules (after pivot_root or setns(mnt) nothing more can be).

AT_FDCWD = -100
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Prepared:
    """What is left to do at the last moment: the executable, its argv and env."""

    __slots__ = ("path", "args", "env", "seccomp_late", "process", "listener")

    def __init__(self, path, args, env, seccomp_late, process):
        self.path = path
        self.args = args
        self.env = env
        self.seccomp_late = seccomp_late
        self.process = process


def set_step(ctx, step):
    """Record the step in ctx (a dict the child's error report reads)."""
    ctx["step"] = step


def apply(process, seccomp, ctx, extra_env=(), linux=None, listener=None, preserve_fds=0):
    """Apply everything but the execve; return Prepared. ctx['step'] names the current step."""
    set_step(ctx, "rlimits")
    for rl in process.get("rlimits", []):
        try:
            resource.setrlimit(names.RLIMITS[rl["type"]],
                               (rlimit_value(rl["soft"]), rlimit_value(rl["hard"])))
        except (ValueError, OSError) as e:
            raise OSError(errno.EPERM, f"{rl['type']} {rl['soft']}:{rl['hard']}: {e}"
                          " (above the host's hard limit, and pyrunc lacks CAP_SYS_RESOURCE?)")
    if process.get("oomScoreAdj") is not None:
        set_step(ctx, "oomScoreAdj")
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))
    if process.get("ioPriority") or process.get("scheduler") or (linux or {}).get("personality"):
        set_step(ctx, "ioPriority, scheduler and personality")
        from pyrunc import scheduling
        scheduling.apply(process, linux or {})
    if (linux or {}).get("memoryPolicy"):
        set_step(ctx, "memoryPolicy")
        from pyrunc import mempolicy  # imported before pivot_root (init._import_child_modules)
        mempolicy.apply(linux["memoryPolicy"])
    user = process.get("user", {})
    os.umask(user.get("umask", 0o022))
    env = list(process.get("env", [])) + list(extra_env)
    set_step(ctx, "cwd")
    enter_cwd(process.get("cwd", "/"))
    caps = capabilities.CapabilityPlan(process.get("capabilities", {}))
    set_step(ctx, "capabilities")
    caps.drop_bounding()
    set_step(ctx, "user")
    _switch_user(user)  # keep-caps: the permitted set survives for seccomp and capset below
    nnp = bool(process.get("noNewPrivileges"))
    if nnp:
        set_step(ctx, "noNewPrivileges")
        native.prctl(capabilities.PR_SET_NO_NEW_PRIVS, 1)
    set_step(ctx, "executable")
    env = _with_home(env, user.get("uid", 0))
    path = find_executable(process["args"][0], env)  # as the user, as execve will check
    refuse_runtime_binary(path)
    # Before the filter: close_range is one of the calls an older profile denies (runc walks
    # /proc/self/fd).
    close_on_exec_past(3 + preserve_fds)
    if seccomp and not nnp:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: raised from the kept
        # permitted set for this one call. From here on the runtime makes only the calls
        # runc makes after its filter too: capset, prctl, a few reads and writes, execve.
        set_step(ctx, "seccomp")
        _with_sys_admin()
        from pyrunc import seccomp as seccomp_mod
        seccomp_mod.load(seccomp, listener)
    set_step(ctx, "capabilities")
    caps.apply_sets()
    prepared = Prepared(path, process["args"], env, seccomp if nnp else None, process)
    prepared.listener = listener
    return prepared


def _with_sys_admin():
    effective, permitted, inheritable = native.capget()
    bit = 1 << names.CAP_NUMBERS["CAP_SYS_ADMIN"]
    if permitted & bit and not effective & bit:
        native.capset(effective | bit, permitted, inheritable)


def rlimit_value(value):
    """config.json's 2**64-1 is RLIM_INFINITY, which Python's resource module spells -1."""
    return resource.RLIM_INFINITY if value >= 2**64 - 1 else value


def enter_cwd(cwd):
    """chdir, then make sure we are still inside the container's root: a cwd through a magic
    link such as /proc/self/fd/N could land on a directory of the host (CVE-2024-21626)."""
    os.chdir(cwd)
    try:
        # The kernel says "(unreachable)/..." for a cwd outside our root; glibc turns that
        # into ENOENT.
        inside = os.getcwd().startswith("/")
    except FileNotFoundError:
        inside = False
    if not inside:
        refuse_cwd_outside_root(cwd)


def refuse_cwd_outside_root(cwd):
    """The process's cwd is not under its root (CVE-2024-21626): refuse to run it there."""
    raise OSError(errno.EPERM, f"process.cwd {cwd!r} leads outside the container's root")


def close_on_exec_past(first):
    """Close-on-exec for every fd from `first` on: whatever the caller leaked, or pyrunc opened,
    does not reach the container's program (CVE-2024-21626)."""
    native.close_range(first, 0xFFFFFFFF, native.CLOSE_RANGE_CLOEXEC)


def _switch_user(user):
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    # Each group once, as runc gives them: setgroups() would keep a repeated gid repeated.
    groups = list(dict.fromkeys(user.get("additionalGids") or []))
    native.prctl(capabilities.PR_SET_KEEPCAPS, 1)
    if _setgroups_allowed():
        os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    native.prctl(capabilities.PR_SET_KEEPCAPS, 0)


def _setgroups_allowed():
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() != "deny"
    except OSError:
        return True


def _with_home(env, uid):
    """Set HOME from the container's /etc/passwd when the config does not (runc does too)."""
    if any(e.startswith("HOME=") for e in env):
        return env
    home = "/"
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    home = fields[5] or "/"
                    break
    except OSError:
        pass
    return env + [f"HOME={home}"]


def find_executable(name, env):
    """PATH lookup with the container's environment; raises a clear OSError if not found."""
    if "/" in name:
        refuse_magic_links(name)
        if not os.access(name, os.X_OK):
            raise OSError(errno.ENOENT if not os.path.exists(name) else errno.EACCES,
                          f"exec {name!r}: " + ("no such file" if not os.path.exists(name)
                                                else "permission denied"))
        return name
    path = next((e[5:] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            refuse_magic_links(candidate)
            return candidate
    raise OSError(errno.ENOENT, f"exec {name!r}: executable file not found in $PATH")


def refuse_magic_links(path):
    """The program must be a file of the container: a /proc/self/fd/N or /proc/<pid>/root
    magic link on the way could point at the host (CVE-2024-21626); refuse one."""
    try:
        fd = native.openat2(AT_FDCWD, path, os.O_PATH, 0, native.RESOLVE_NO_MAGICLINKS)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(errno.EPERM, f"exec {path!r}: refusing a program reached through a "
                          "/proc magic link (it could lead out of the container)") from None
        return  # missing or not permitted: the checks that follow say so
    os.close(fd)


_runtime_binary = None  # (st_dev, st_ino) of the interpreter running pyrunc


def remember_runtime_binary():
    """Called while /proc is still the host's: what /proc/self/exe is for us."""
    global _runtime_binary
    st = os.stat("/proc/self/exe")
    _runtime_binary = (st.st_dev, st.st_ino)


def refuse_runtime_binary(path):
    """CVE-2019-5736's trick: a container program that is, or whose #! interpreter chain ends
    in, /proc/self/exe makes the kernel run the runtime's own binary (here the host's Python)
    inside the container, which may then reopen it for writing once pyrunc exits. Refuse."""
    for _level in range(5):  # the kernel follows at most 4 levels of #! interpreters
        try:
            st = os.stat(path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) == _runtime_binary:
            raise OSError(errno.EPERM, f"exec {path!r}: refusing to run the runtime's own binary "
                          "inside the container")
        try:
            with open(path, "rb") as f:
                head = f.read(256)
        except OSError:
            return
        if not head.startswith(b"#!"):
            return
        words = head[2:].split(b"\n", 1)[0].split()
        if not words:
            return
        path = words[0].decode(errors="replace")


def exec_now(prepared):
    """The last steps: LSM labels, late seccomp, execve. The fds past stdio and the preserved
    ones are close-on-exec since apply()."""
    if prepared.process.get("apparmorProfile") or prepared.process.get("selinuxLabel"):
        from pyrunc import lsm
        lsm.exec_attributes(prepared.process)
    env = _env_dict(prepared.env)
    # Last: after the filter, the runtime's only syscall is execve (a profile may deny the rest).
    if prepared.seccomp_late:
        from pyrunc import seccomp as seccomp_mod
        seccomp_mod.load(prepared.seccomp_late, prepared.listener)
    os.execve(prepared.path, prepared.args, env)


def _env_dict(env):
    result = {}
    for entry in env:
        key, _, value = entry.partition("=")
        result[key] = value
    return result
