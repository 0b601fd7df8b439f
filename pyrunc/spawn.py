"""The parent side of the init path (see protocol.py): fork stage1, answer its messages, and
hand back the pid of the container's init (or exec'd process) and its pty master."""
import _signal as signal  # without signal.py's enum wrappers (~3 ms per start)
import os
import select
import time

from pyrunc import procfs, protocol, timing
from pyrunc.errors import PyruncError

# The longest the parent waits for its child's next message (createContainer hooks, which the
# init runs, get their own timeouts on top). Setting up takes milliseconds; far past that, the
# child is stuck (a frozen cgroup, a SIGSTOP, a mount that hangs) and the command must end.
INIT_TIMEOUT = 30.0
# How long a child that was sent SIGKILL, or stage1 after it reported, may take to be reaped.
REAP_TIMEOUT = 2.0
# While waiting, how often we look whether the child is stopped or frozen (never on the normal
# path: the messages come before the first look).
STUCK_CHECK = 0.25


class InitTimeout(PyruncError):
    """The container's init (or the exec'd process) stopped answering during setup."""


class Spawned:
    def __init__(self, pid, pty_master):
        self.pid = pid
        self.pty_master = pty_master


def spawn(plan, child, on_pid, uid_maps=None, gid_maps=None, after_fork=None, on_hooks=None,
          join_cgroups=None):
    """Run the sequence up to READY: child(plan, channel) is stage1 (init.stage1), run in the
    forked process; it never returns. after_fork() runs in the parent while stage1 works;
    on_pid(pid) runs once the init's pid is known (record it, join cgroups) before the init is
    let go; on_hooks() when the init, its mounts done, asks for the runtime's hooks. On any
    failure the children are killed and the error is raised."""
    try:
        _require_single_thread()
        parent_chan, child_chan = protocol.Channel.pair()
        timing.begin("fork")
        stage1_pid = os.fork()
        if stage1_pid == 0:
            timing.process("stage1")
            parent_chan.close()
            child(plan, child_chan)  # never returns
        timing.end("fork")
        child_chan.close()
    finally:
        for _kind, fd in plan.join:  # stage1 has its copies: ours are closed, whatever happens
            os.close(fd)
    init_pid = 0
    pty_master = None
    stage1 = _Peer(stage1_pid, "stage1", {})
    try:
        protocol.checkpoint("forked")
        if after_fork is not None:
            after_fork()
        timing.begin("wait-stage1")
        message, _ = _recv(parent_chan, stage1, "its namespaces")
        if message["type"] == protocol.USERNS_READY:
            write_id_maps(stage1_pid, uid_maps or [], gid_maps or [])
            parent_chan.send(protocol.USERNS_MAPPED)
            message, _ = _recv(parent_chan, stage1, "its namespaces")
        if message["type"] != protocol.INIT_PID:
            raise PyruncError(f"init path: unexpected message {message['type']}")
        init_pid = message["pid"]
        if not _reap(stage1_pid, REAP_TIMEOUT):
            raise InitTimeout(f"stage1 (pid {stage1_pid}) did not exit after forking the init")
        stage1_pid = 0
        timing.end("wait-stage1")
        child = _Peer(init_pid, "exec'd process" if plan.is_exec else "init",
                      plan.cgroup_paths, plan.frozen_ok)
        on_pid(init_pid)
        parent_chan.send(protocol.CONTINUE, pid=init_pid)
        protocol.checkpoint("continued")
        if join_cgroups is not None:
            try:
                join_cgroups(init_pid)  # while the init mounts its rootfs
                parent_chan.send(protocol.CGROUP_JOINED)
            except (OSError, PyruncError):
                # The init may have failed meanwhile (and so be gone, or have closed its end):
                # its own report says why, better than ESRCH or EPIPE would. A live init waits
                # for CGROUP_JOINED and says nothing: then our error stands.
                if _readable(parent_chan, 0.2):
                    _recv(parent_chan, child, "its report", 0.2)
                raise
        setup_timeout = INIT_TIMEOUT
        if not plan.is_exec:
            # The init's own hooks run between our messages: their timeouts add to the bound.
            from pyrunc import hooks
            setup_timeout += hooks.total_timeout(plan.hooks, "createContainer")
        timing.begin("wait-ready")
        while True:
            message, fds = _recv(parent_chan, child, "the end of its setup", setup_timeout)
            if message["type"] == protocol.PTY_MASTER:
                pty_master = fds[0]
            elif message["type"] == protocol.RUN_HOOKS:
                on_hooks()
                parent_chan.send(protocol.HOOKS_DONE)
            elif message["type"] == protocol.READY:
                break
        timing.end("wait-ready")
        if plan.is_exec:
            timing.begin("wait-exec")
            _wait_for_exec(parent_chan, child)
            timing.end("wait-exec")
        return Spawned(init_pid, pty_master)
    except BaseException:
        for pid in (stage1_pid, init_pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid in (stage1_pid, init_pid):
            if pid:
                # The init too: our child if we are a subreaper (exec, run). Bounded: a task
                # in a frozen cgroup does not die of SIGKILL until it is thawed.
                _reap(pid, REAP_TIMEOUT)
        if pty_master is not None:
            os.close(pty_master)
        raise
    finally:
        parent_chan.close()


def _require_single_thread():
    """The children fork from us and then unshare(CLONE_NEWUSER) / setns(mnt), which the
    kernel refuses to a multi-threaded process; and a lock held by another thread at fork
    time stays locked forever in the child. So the caller must be single-threaded."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                if int(line.split()[1]) > 1:
                    raise PyruncError("pyrunc must fork the container's init from a "
                                      "single-threaded process: this one runs threads "
                                      "(use the pyrunc command from threaded programs)")
                return


class _Peer:
    """The child we wait for: its pid, what to call it, and its cgroups (for the frozen check)."""

    def __init__(self, pid, name, cgroup_paths, frozen_ok=False):
        self.pid = pid
        self.name = name
        self.cgroup_paths = cgroup_paths
        self.frozen_ok = frozen_ok  # frozen is waiting for `resume`, not stuck (--ignore-paused)

    def stuck(self):
        """Why the child cannot go on (stopped by a signal, frozen with its cgroup), or None."""
        from pyrunc import state
        info = state.proc_start_time(self.pid)
        if info is not None and info[0] in ("T", "t"):
            return f"the container's {self.name} (pid {self.pid}) is stopped (SIGSTOP?)"
        if not self.frozen_ok and self.frozen():
            return f"the container's {self.name} (pid {self.pid}) is frozen in its cgroup"
        return None

    def frozen(self):
        if not self.cgroup_paths:
            return False
        from pyrunc.cgroups import ContainerCgroup
        try:
            return ContainerCgroup(self.cgroup_paths).frozen()
        except OSError:
            return False


def _readable(chan, timeout):
    poller = select.poll()  # not select(): the socket's fd may be past FD_SETSIZE
    poller.register(chan.fileno(), select.POLLIN)
    return bool(poller.poll(max(0, timeout) * 1000))


def _recv(chan, peer, waiting_for, timeout=INIT_TIMEOUT, eof_ok=False):
    """The child's next message, within timeout seconds; a child that stopped or froze
    meanwhile is an error at once, one that merely says nothing is one at the deadline.
    End of file is an error, or (eof_ok) (None, None)."""
    deadline = time.monotonic() + timeout
    while not _readable(chan, min(STUCK_CHECK, deadline - time.monotonic())):
        why = peer.stuck()
        if why:
            raise InitTimeout(f"{why}: it cannot finish setting up (waiting for {waiting_for})")
        if peer.frozen_ok and peer.frozen():
            # runc's exec --ignore-paused waits for `resume` however long: the time frozen
            # does not count against the child.
            deadline = time.monotonic() + timeout
        elif time.monotonic() >= deadline:
            raise InitTimeout(f"the container's {peer.name} (pid {peer.pid}) did not report "
                              f"{waiting_for} within {timeout:g} s")
    try:
        message, fds = chan.recv()
    except protocol.ChannelClosed:
        if eof_ok:
            return None, None
        raise PyruncError("container init exited unexpectedly during setup") from None
    protocol.raise_if_error(message)
    return message, fds


def _wait_for_exec(chan, peer):
    """After READY the process execs; the close-on-exec channel then reads EOF. An ERROR
    instead means the execve failed."""
    _recv(chan, peer, "its execve", eof_ok=True)


def reap(pid):
    """Reap a helper child of ours (cgroups' start_first_migration), bounded."""
    _reap(pid, REAP_TIMEOUT)


def _reap(pid, timeout):
    """Wait for pid to exit and reap it if it is our child; False if it is still alive after
    timeout seconds."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # gone already (and reaped, or never ours)
        pidfd = None
    if pidfd is not None:
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            if not poller.poll(timeout * 1000):
                return False
        finally:
            os.close(pidfd)
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return True


def write_id_maps(pid, uid_maps, gid_maps):
    """Root writes the maps itself. A user may map only its own uid and gid, once, after
    denying setgroups; anything more goes through the setuid helpers newuidmap/newgidmap,
    which check /etc/subuid and /etc/subgid."""
    unprivileged = os.geteuid() != 0
    for name, maps, own_id, helper in (("uid_map", uid_maps, os.geteuid(), "newuidmap"),
                                       ("gid_map", gid_maps, os.getegid(), "newgidmap")):
        field = f"linux.{'uid' if name == 'uid_map' else 'gid'}Mappings"
        just_own = len(maps) == 1 and maps[0]["hostID"] == own_id and maps[0]["size"] == 1
        if unprivileged and not just_own:
            _run_map_helper(helper, pid, maps, field)
            continue
        if unprivileged and name == "gid_map":
            _write_proc(pid, "setgroups", "deny", field)
        _write_proc(pid, name, "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n"
                                       for m in maps), field)


def _write_proc(pid, name, text, field):
    try:
        procfs.write(f"{pid}/{name}", text)  # through a verified procfs (CVE-2025-52881)
    except OSError as e:
        raise PyruncError(f"{field}: cannot write {name}: {e.strerror}") from None


def _run_map_helper(helper, pid, maps, field):
    import subprocess
    argv = [helper, str(pid)] + [str(m[k]) for m in maps
                                 for k in ("containerID", "hostID", "size")]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise PyruncError(f"{field}: {helper} did not finish within 10 s") from None
    except OSError as e:
        raise PyruncError(f"{field}: {helper}: {e.strerror} (install uidmap)") from None
    if result.returncode != 0:
        raise PyruncError(f"{field}: {helper} failed: {result.stderr.strip()}")
