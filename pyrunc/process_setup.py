"""Turning the current (forked) process into config.process, for the container's init and for
`exec` alike: rlimits, oom score, umask, no_new_privs, seccomp, user and groups, capabilities,
cwd, environment, the executable found on the container's PATH, and the final execve.

The defences against runc's CVE classes are functions of their own, each called where its check
belongs: refuse_runtime_binary, refuse_magic_links (the program), refuse_cwd_outside_root and
close_on_exec_past (fds). They have no off switch; the tests' double of pyrunc
(tests/pyrunc_faulty.py) replaces them to show the attack each one stops.

Every system call goes through the kernel the caller passes (kernel.py)."""
import errno
import os
import resource
import stat

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


def apply(k, plan, ctx):
    """Apply plan.process (an init.InitPlan's) but the execve; return Prepared. ctx['step']
    names the current step."""
    process, seccomp, listener = plan.process, plan.seccomp, plan.listener
    set_step(ctx, "rlimits")
    for rl in process.get("rlimits", []):
        try:
            k.setrlimit(names.RLIMITS[rl["type"]],
                        (rlimit_value(rl["soft"]), rlimit_value(rl["hard"])))
        except (ValueError, OSError) as e:
            raise OSError(errno.EPERM, f"{rl['type']} {rl['soft']}:{rl['hard']}: {e}"
                          " (above the host's hard limit, and pyrunc lacks CAP_SYS_RESOURCE?)")
    if process.get("oomScoreAdj") is not None:
        set_step(ctx, "oomScoreAdj")
        k.write_proc("self/oom_score_adj", str(process["oomScoreAdj"]))
    if process.get("ioPriority") or process.get("scheduler") or plan.personality:
        set_step(ctx, "ioPriority, scheduler and personality")
        from pyrunc import scheduling
        scheduling.apply(process, plan.personality)
    if plan.memory_policy:
        set_step(ctx, "memoryPolicy")
        from pyrunc import mempolicy  # imported before pivot_root (init._import_child_modules)
        mempolicy.apply(plan.memory_policy)
    user = process.get("user", {})
    k.umask(user.get("umask", 0o022))
    env = list(process.get("env", [])) + list(plan.extra_env)
    set_step(ctx, "cwd")
    enter_cwd(k, process.get("cwd", "/"))
    caps = capabilities.CapabilityPlan(process.get("capabilities", {}))
    set_step(ctx, "capabilities")
    caps.drop_bounding(k)
    set_step(ctx, "user")
    _switch_user(k, user)  # keep-caps: the permitted set survives for seccomp and capset below
    nnp = bool(process.get("noNewPrivileges"))
    if nnp:
        set_step(ctx, "noNewPrivileges")
        k.prctl(capabilities.PR_SET_NO_NEW_PRIVS, 1)
    set_step(ctx, "executable")
    env = _with_home(k, env, user.get("uid", 0))
    path = find_executable(k, process["args"][0], env)  # as the user, as execve will check
    refuse_runtime_binary(k, path)
    # Before the filter: close_range is one of the calls an older profile denies (runc walks
    # /proc/self/fd).
    close_on_exec_past(k, 3 + plan.preserve_fds)
    if seccomp and not nnp:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: raised from the kept
        # permitted set for this one call. From here on the runtime makes only the calls
        # runc makes after its filter too: capset, prctl, a few reads and writes, execve.
        set_step(ctx, "seccomp")
        _with_sys_admin(k)
        k.load_seccomp(seccomp, listener)
    set_step(ctx, "capabilities")
    caps.apply_sets(k)
    prepared = Prepared(path, process["args"], env, seccomp if nnp else None, process)
    prepared.listener = listener
    return prepared


def _with_sys_admin(k):
    effective, permitted, inheritable = k.capget()
    bit = 1 << names.CAP_NUMBERS["CAP_SYS_ADMIN"]
    if permitted & bit and not effective & bit:
        k.capset(effective | bit, permitted, inheritable)


def rlimit_value(value):
    """config.json's 2**64-1 is RLIM_INFINITY, which Python's resource module spells -1."""
    return resource.RLIM_INFINITY if value >= 2**64 - 1 else value


def enter_cwd(k, cwd):
    """chdir, then make sure we are still inside the container's root: a cwd through a magic
    link such as /proc/self/fd/N could land on a directory of the host (CVE-2024-21626)."""
    k.chdir(cwd)
    try:
        # The kernel says "(unreachable)/..." for a cwd outside our root; glibc turns that
        # into ENOENT.
        inside = k.getcwd().startswith("/")
    except FileNotFoundError:
        inside = False
    if not inside:
        refuse_cwd_outside_root(cwd)


def refuse_cwd_outside_root(cwd):
    """The process's cwd is not under its root (CVE-2024-21626): refuse to run it there."""
    raise OSError(errno.EPERM, f"process.cwd {cwd!r} leads outside the container's root")


def close_on_exec_past(k, first):
    """Close-on-exec for every fd from `first` on: whatever the caller leaked, or pyrunc opened,
    does not reach the container's program (CVE-2024-21626)."""
    k.close_range(first, 0xFFFFFFFF, native.CLOSE_RANGE_CLOEXEC)


def _switch_user(k, user):
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    # Each group once, as runc gives them: setgroups() would keep a repeated gid repeated.
    groups = list(dict.fromkeys(user.get("additionalGids") or []))
    k.prctl(capabilities.PR_SET_KEEPCAPS, 1)
    if (k.read_file("/proc/self/setgroups") or "").strip() != "deny":
        k.setgroups(groups)
    k.setresgid(gid)
    k.setresuid(uid)
    k.prctl(capabilities.PR_SET_KEEPCAPS, 0)


def _with_home(k, env, uid):
    """Set HOME from the container's /etc/passwd when the config does not (runc does too)."""
    if any(e.startswith("HOME=") for e in env):
        return env
    home = "/"
    passwd = k.read_regular_file("/etc/passwd")
    for line in (passwd or b"").decode(errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[2] == str(uid):
            home = fields[5] or "/"
            break
    return env + [f"HOME={home}"]


def _is_file(k, path):
    try:
        return stat.S_ISREG(k.stat(path).st_mode)
    except OSError:
        return False


def find_executable(k, name, env):
    """PATH lookup with the container's environment; raises a clear OSError if not found."""
    if "/" in name:
        refuse_magic_links(k, name)
        if not k.exists(name):
            raise OSError(errno.ENOENT, f"exec {name!r}: no such file")
        if not _is_file(k, name):
            # execve would refuse it only at `start`, after create said all was well.
            raise OSError(errno.EACCES, f"exec {name!r}: not a regular file")
        if not k.access(name, os.X_OK):
            raise OSError(errno.EACCES, f"exec {name!r}: permission denied")
        return name
    path = next((e[5:] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if _is_file(k, candidate) and k.access(candidate, os.X_OK):
            refuse_magic_links(k, candidate)
            return candidate
    raise OSError(errno.ENOENT, f"exec {name!r}: executable file not found in $PATH")


def refuse_magic_links(k, path):
    """The program must be a file of the container: a /proc/self/fd/N or /proc/<pid>/root
    magic link on the way could point at the host (CVE-2024-21626); refuse one."""
    try:
        fd = k.openat2(AT_FDCWD, path, os.O_PATH, 0, native.RESOLVE_NO_MAGICLINKS)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(errno.EPERM, f"exec {path!r}: refusing a program reached through a "
                          "/proc magic link (it could lead out of the container)") from None
        return  # missing or not permitted: the checks that follow say so
    k.close(fd)


_runtime_binary = None  # (st_dev, st_ino) of the interpreter running pyrunc


def remember_runtime_binary(k):
    """Called while /proc is still the host's: what /proc/self/exe is for us."""
    global _runtime_binary
    st = k.stat("/proc/self/exe")
    _runtime_binary = (st.st_dev, st.st_ino)


def refuse_runtime_binary(k, path):
    """CVE-2019-5736's trick: a container program that is, or whose #! interpreter chain ends
    in, /proc/self/exe makes the kernel run the runtime's own binary (here the host's Python)
    inside the container, which may then reopen it for writing once pyrunc exits. Refuse."""
    for _level in range(5):  # the kernel follows at most 4 levels of #! interpreters
        try:
            st = k.stat(path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) == _runtime_binary:
            raise OSError(errno.EPERM, f"exec {path!r}: refusing to run the runtime's own binary "
                          "inside the container")
        head = k.read_regular_file(path, 256)
        if head is None:
            return  # not a script: execve itself refuses what is not a regular file
        if not head.startswith(b"#!"):
            return
        words = head[2:].split(b"\n", 1)[0].split()
        if not words:
            return
        path = words[0].decode(errors="replace")


def exec_now(k, prepared):
    """The last steps: LSM labels, late seccomp, execve. The fds past stdio and the preserved
    ones are close-on-exec since apply()."""
    if prepared.process.get("apparmorProfile") or prepared.process.get("selinuxLabel"):
        from pyrunc import lsm
        lsm.exec_attributes(prepared.process)
    env = _env_dict(prepared.env)
    # Last: after the filter, the runtime's only syscall is execve (a profile may deny the rest).
    if prepared.seccomp_late:
        k.load_seccomp(prepared.seccomp_late, prepared.listener)
    k.execve(prepared.path, prepared.args, env)


def _env_dict(env):
    result = {}
    for entry in env:
        key, _, value = entry.partition("=")
        result[key] = value
    return result
