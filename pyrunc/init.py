"""The child side of the init path (see protocol.py for the sequence; plan.py for what the
children are given): stage1 joins and creates
namespaces and forks the init; the init builds the rootfs, becomes the container's process and,
after `start` opens the exec fifo, execs it. `exec` runs the same stages with every namespace
joined. Nothing here returns to the caller: each process ends in execve or os._exit.

Every system call goes through a kernel (kernel.py): the real one unless a test passes its
recording double (tests/unit/kernel_double.py), with which these steps run without root.
"""
import os

from pyrunc import SPEC_VERSION, process_setup, protocol, timing
from pyrunc.names import CLONE_NEWCGROUP, CLONE_NEWNS, CLONE_NEWTIME, CLONE_NEWUSER, NAMESPACES

PR_SET_DUMPABLE = 4


def stage1(plan, chan, k=None):
    """First child: namespaces, then fork the init (or the exec'd process). k: the kernel,
    the real one by default, imported here rather than by the parent: stage1's imports run
    while the parent makes the cgroups on the other core."""
    ctx = {"step": "loading modules"}
    try:
        if k is None:
            from pyrunc.kernel import REAL as k
        timing.begin("imports")
        _import_child_modules(plan)
        timing.end("imports")
        _close_inherited_fds(plan, chan, k)
        # Not dumpable until the container's program is exec'd: processes already in the
        # container cannot ptrace us or open our /proc/<pid>/ files (exe, fds, mem). An
        # unprivileged parent must still open our uid_map first: then it waits for the maps.
        defer_dumpable = bool(plan.new_flags & CLONE_NEWUSER) and os.geteuid() != 0
        if not defer_dumpable:
            _make_undumpable(k)
        process_setup.remember_runtime_binary(k)
        seccomp = plan.seccomp or {}
        if seccomp.get("listenerPath"):
            from pyrunc import seccomp as seccomp_mod
            if seccomp_mod.uses_notify(seccomp):
                ctx["step"] = "connecting to the seccomp listener"
                # while its path is reachable
                plan = plan.replace(listener=seccomp_mod.Listener(seccomp))
        ctx["step"] = "joining namespaces"
        timing.begin("namespaces")
        for kind, fd in plan.join:
            ctx["step"] = f"joining the {kind} namespace"
            k.setns(fd, NAMESPACES[kind][0])  # the kernel checks the type once more
            k.close(fd)
        if plan.new_flags & CLONE_NEWUSER:
            ctx["step"] = "creating the user namespace"
            k.unshare(CLONE_NEWUSER)
            chan.send(protocol.USERNS_READY)
            chan.expect(protocol.USERNS_MAPPED)
            if defer_dumpable:
                _make_undumpable(k)
        rest = plan.new_flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP)
        if rest:
            ctx["step"] = "creating namespaces"
            k.unshare(rest)
        offsets = plan.time_offsets
        if offsets and plan.new_flags & CLONE_NEWTIME:  # not when exec joins the container's
            ctx["step"] = "setting time offsets"
            k.write_proc("self/timens_offsets", "".join(
                f"{clock} {off.get('secs', 0)} {off.get('nanosecs', 0)}\n"
                for clock, off in offsets.items()))
        if plan.new_flags & CLONE_NEWUSER:
            # Root of the new user namespace only now: as that uid (a host uid such as 100000)
            # we could no longer open our own /proc/self files, timens_offsets among them.
            k.setresgid(0)
            k.setresuid(0)
        timing.end("namespaces")
        ctx["step"] = "forking the init"
        timing.begin("fork")
        pid = os.fork()
        if pid == 0:
            timing.process("exec" if plan.is_exec else "init")
            (run_exec_process if plan.is_exec else run_init)(plan, chan, k)
        timing.end("fork")
        try:
            chan.send(protocol.INIT_PID, pid=pid)
        except OSError:
            os.kill(pid, 9)  # the parent is gone: do not leave the init behind
            raise
        os._exit(0)
    except BaseException as e:  # noqa: B036 - the child must report whatever happened
        _report(chan, ctx, e)
        os._exit(1)


def run_init(plan, chan, k):
    """The container's pid 1 until it execs the user's process."""
    from pyrunc import hooks, rootfs

    ctx = {"step": "waiting for the parent"}
    try:
        timing.begin("wait-continue")
        message, _ = chan.expect(protocol.CONTINUE)
        timing.end("wait-continue")
        _listener_state(plan, message["pid"], "creating")
        if not plan.terminal:
            k.setsid()
        if not plan.no_new_keyring:
            ctx["step"] = "joining a session keyring"
            _join_keyring(k, plan.container_id)
        ctx["step"] = "mounting the rootfs"
        timing.begin("rootfs")
        own_mount_ns = bool(plan.new_flags & CLONE_NEWNS) or plan.joins("mount")
        rctx = rootfs.RootfsContext(plan.bundle, plan.rootfs, bool(plan.new_flags & CLONE_NEWUSER)
                                    or plan.joins("user"), plan.cgroup_paths, own_mount_ns, k,
                                    plan.rootfs_plan.mount_label, plan.mount_fds)
        root_fd = rootfs.prepare(plan.rootfs_plan, rctx)
        timing.end("rootfs")
        if hooks.has_hooks(plan.hooks, "prestart", "createRuntime"):
            ctx["step"] = "waiting for prestart and createRuntime hooks"
            chan.send(protocol.RUN_HOOKS)
            chan.expect(protocol.HOOKS_DONE)
        ctx["step"] = "createContainer hooks"
        hooks.run_hooks(plan.hooks, "createContainer", _hook_state(plan, "created"))  # step 5
        ctx["step"] = "pivot_root" if not plan.no_pivot else "chroot"
        timing.begin("pivot")
        rootfs.pivot(k, root_fd, plan.no_pivot, own_mount_ns)
        k.close(root_fd)
        if plan.hostname:
            ctx["step"] = "sethostname"
            k.sethostname(plan.hostname)
        if plan.domainname:
            ctx["step"] = "setdomainname"
            k.setdomainname(plan.domainname)
        for key, value in plan.sysctl.items():
            ctx["step"] = f"sysctl {key}"
            k.write_proc("sys/" + key.replace(".", "/"), value)
        if plan.terminal:
            ctx["step"] = "terminal"
            slave = _terminal(plan, chan)
            rootfs.bind_console(k, slave)
        ctx["step"] = "read-only and masked paths"
        rootfs.finish(k, plan.rootfs_plan)
        timing.end("pivot")
        ctx["step"] = "waiting to be in the container's cgroups"
        timing.begin("wait-cgroup")
        chan.wait_cgroup_joined()
        timing.end("wait-cgroup")
        if plan.new_flags & CLONE_NEWCGROUP:
            ctx["step"] = "creating the cgroup namespace"
            k.unshare(CLONE_NEWCGROUP)  # after joining: our cgroup is its root
        timing.begin("process")
        prepared = process_setup.apply(k, plan, ctx)
        timing.end("process")
        # The exec fifo is reopened through /proc/self/fd once `start` comes: a config that
        # hides it (maskedPaths /proc/self) must fail here, at create, as runc fails, not after
        # create returned with an init that can only die.
        ctx["step"] = "reaching the exec fifo through /proc/self/fd"
        k.stat(f"/proc/self/fd/{plan.fifo_fd}")
        ctx["step"] = "reporting ready"
        chan.send(protocol.READY)
        chan.close()
        timing.begin("wait-start")
    except BaseException as e:  # noqa: B036
        _report(chan, ctx, e)
        os._exit(1)
    try:
        _exit_on_termination_signals()
        # Blocks until `start` opens the fifo for reading. "0": released; "1": about to exec.
        # The fd is close-on-exec, so `start` reads end-of-file once the execve happened and
        # only then runs the poststart hooks.
        while True:
            fd = k.open(f"/proc/self/fd/{plan.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                k.write(fd, b"0")
                break
            except BrokenPipeError:
                # A reader came and went while we could not run (a `start` that gave up on a
                # stopped or frozen init): wait for the next one instead of dying.
                k.close(fd)
        k.close(plan.fifo_fd)
        timing.end("wait-start")
        hooks.run_hooks(plan.hooks, "startContainer", _hook_state(plan, "created"))
        k.write(fd, b"1")
        timing.begin("execve")  # its end: the program's first instruction
        process_setup.exec_now(k, prepared)
    except BaseException as e:  # noqa: B036 - nobody listens any more: stderr is all we have
        os.write(2, f"pyrunc init: {_describe(e)}\n".encode())
    os._exit(127)


def run_exec_process(plan, chan, k):
    """A process started by `exec` inside a running container."""
    ctx = {"step": "waiting for the parent"}
    try:
        timing.begin("wait-continue")
        message, _ = chan.expect(protocol.CONTINUE)
        timing.end("wait-continue")
        _listener_state(plan, message["pid"], "running")
        if plan.root_fd >= 0:
            # The container shares our mount namespace and was chrooted: so is its exec.
            ctx["step"] = "chroot into the container's root"
            k.fchdir(plan.root_fd)
            k.chroot(".")
            k.close(plan.root_fd)
        if plan.terminal:
            ctx["step"] = "terminal"
            _terminal(plan, chan)
        else:
            k.setsid()
        timing.begin("process")
        prepared = process_setup.apply(k, plan, ctx)
        timing.end("process")
        chan.send(protocol.READY)
        timing.begin("execve")
        ctx["step"] = "exec"
        # The channel is close-on-exec: the parent reads EOF when execve succeeds.
        process_setup.exec_now(k, prepared)
    except BaseException as e:  # noqa: B036
        _report(chan, ctx, e)
    os._exit(1)


def _exit_on_termination_signals():
    """A pid namespace's init only receives the signals it handles: without handlers, `kill
    ID TERM` on a created container would do nothing (runc's Go init exits on it). execve
    resets these handlers for the container's own program."""
    import _signal

    def leave(signum, _frame):
        os._exit(128 + signum)

    for sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGQUIT,
                _signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGALRM):
        _signal.signal(sig, leave)


def _make_undumpable(k):
    """A defence (CVE-2016-9962, CVE-2019-5736): until the container's program is exec'd, no
    process in the container may ptrace us or open our /proc/<pid>/ files. The tests' double
    of pyrunc (tests/pyrunc_faulty.py) replaces this and _close_inherited_fds to show the
    attacks they stop."""
    k.prctl(PR_SET_DUMPABLE, 0)


def _close_inherited_fds(plan, chan, k):
    """Keep stdio, the preserved range and our own channel, fifo and namespace fds; close all
    else now (the state lock above all), not merely at exec: a directory fd inherited from the
    caller would otherwise be a way out through /proc/self/fd/N during setup (CVE-2024-21626).
    Our own fds are all above the preserved range (fds.py): in it are only the caller's, made
    inheritable here, and close-on-exec placeholders that keep our later opens out of it."""
    for fd in plan.passed_fds:  # runc passes them even when close-on-exec
        os.set_inheritable(fd, True)
    first = 3 + plan.preserve_fds
    keep = sorted({chan.fileno(), plan.fifo_fd, plan.root_fd,
                   *(fd for _kind, fd in plan.join), *plan.mount_fds.values()} - {-1})
    for fd in keep + [0x7FFFFFFF]:
        if fd >= first:
            if fd > first:
                k.close_range(first, fd - 1)
            first = fd + 1


def _import_child_modules(plan):
    """Import now what the children use later, and only that: after setns(mnt) or pivot_root,
    pyrunc's own files are no longer in reach. An exec'd process mounts nothing and runs no
    hooks; seccomp, the LSM labels and the scheduling calls are for the configs that ask."""
    if not plan.is_exec:
        # cgroups: for kernel.cgroup_hierarchies (the cgroup mount)
        from pyrunc import cgroups, hooks, rootfs  # noqa: F401
        if plan.hooks:
            import subprocess  # noqa: F401
    if plan.terminal:
        from pyrunc import terminal  # noqa: F401
    if plan.seccomp:
        from pyrunc import seccomp  # noqa: F401
    if plan.process.get("apparmorProfile") or plan.process.get("selinuxLabel"):
        from pyrunc import lsm  # noqa: F401
    if plan.process.get("ioPriority") or plan.process.get("scheduler") or plan.personality:
        from pyrunc import scheduling  # noqa: F401
    if plan.memory_policy:
        from pyrunc import mempolicy  # noqa: F401


def _terminal(plan, chan):
    from pyrunc import terminal

    master, slave = terminal.make_pty(plan.process.get("consoleSize"))
    chan.send(protocol.PTY_MASTER, fds=[master])
    os.close(master)
    return slave


def _listener_state(plan, host_pid, status):
    """What the seccomp agent is told about the process whose notify fd it receives."""
    if plan.listener is not None:
        plan.listener.state = dict(_hook_state(plan, status), pid=host_pid)


def _join_keyring(k, container_id):
    try:
        k.join_session_keyring(f"_ses.{container_id}")
    except OSError as e:
        if e.errno not in (38, 13, 1, 122):  # ENOSYS, EACCES, EPERM, EDQUOT: none for us
            raise


def _hook_state(plan, status):
    return {"ociVersion": SPEC_VERSION, "id": plan.container_id, "status": status,
            "pid": os.getpid(), "bundle": plan.bundle,
            "annotations": plan.annotations}


def _describe(exc):
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) not in text:
            text += f": {exc.filename}"
        return text
    return str(exc) or type(exc).__name__


def _report(chan, ctx, exc):
    if isinstance(exc, protocol.ChannelClosed):
        return  # the parent is gone: nobody to tell
    try:
        chan.send(protocol.ERROR, step=ctx.get("step", "?"), errno=getattr(exc, "errno", 0) or 0,
                  message=_describe(exc))
    except OSError:
        pass
