"""The lifecycle verbs on one container: create, start, run, exec, kill, delete, state.

This is pyrunc's Python API (re-exported by `import pyrunc`); the CLI is a thin layer over it.
Every verb takes the container's lock; a failing create removes everything it made.
"""
import _signal as signal  # signal.py without enum wrappers (~3 ms per start)
import os
import select
import time

# Only what every verb needs is imported here: config, cgroups and foreground are imported
# by the verbs that use them, so that `start`, `state` and `kill`, which engines run for every
# container, do not pay for them (~2 ms of a ~10 ms command).
from pyrunc import log, state as state_mod
from pyrunc.errors import ConfigError, PyruncError, StateError
from pyrunc.state import CREATED, CREATING, PAUSED, RUNNING, STOPPED

# How long `start` waits for the init to take the exec fifo and exec (its startContainer hooks'
# timeouts on top); the init does it in milliseconds unless it is stuck.
START_TIMEOUT = 10.0
# How long kill --all and delete wait for the freezer that keeps the container from forking
# past their signal.
FREEZE_TIMEOUT = 2.0


class Container:
    """A container under a state root. Use Container.create() or Container.load()."""

    def __init__(self, container_id, root=state_mod.DEFAULT_ROOT):
        self.state = state_mod.ContainerState(root, container_id)
        self.trace_path = None  # create --trace FILE (trace.py)

    @property
    def id(self):
        return self.state.id

    @classmethod
    def load(cls, container_id, root=state_mod.DEFAULT_ROOT):
        c = cls(container_id, root)
        c.state.load_existing()
        return c

    # -- create ----------------------------------------------------------------------------------

    @classmethod
    def create(cls, container_id, bundle=".", root=state_mod.DEFAULT_ROOT, console_socket=None,
               pid_file=None, no_pivot=False, no_new_keyring=False, preserve_fds=0,
               rootless=None, trace=None, pidfd_socket=None):
        """Create the container: its init waits on the exec fifo, state `created`. rootless
        (default: when not root) leaves cgroups alone and maps ids as an unprivileged user.
        trace: a file for the trace of every primitive of the init path (trace.py).
        pidfd_socket: a unix socket that receives a pidfd of the init (pidfd_socket.py)."""
        c = cls(container_id, root)
        c.trace_path = trace
        c._create(bundle, console_socket, pid_file, no_pivot, no_new_keyring, preserve_fds,
                  foreground=False, rootless=rootless, pidfd_socket=pidfd_socket)
        return c

    def _create(self, bundle, console_socket, pid_file, no_pivot, no_new_keyring, preserve_fds,
                foreground, rootless=None, pidfd_socket=None):
        # Before the lock or any other fd of ours is opened: see fds.py.
        with _reserved_fds(preserve_fds + _listen_fds()) as reserved_fds:
            return self._create_reserved(bundle, console_socket, pid_file, no_pivot,
                                         no_new_keyring, reserved_fds, foreground, rootless,
                                         pidfd_socket)

    def _create_reserved(self, bundle, console_socket, pid_file, no_pivot, no_new_keyring,
                         reserved_fds, foreground, rootless, pidfd_socket):
        from pyrunc import timing
        timing.begin("imports")
        from pyrunc import (affinity, cgroups, config as config_mod, idmap, init,
                            plan as plan_mod, protocol, spawn)
        timing.end("imports")
        timing.begin("config")
        bundle = os.path.abspath(bundle)
        config = config_mod.load_bundle_config(bundle)
        config_mod.validate(config, bundle)
        timing.end("config")
        timing.begin("checks")
        process = config["process"]
        if process.get("terminal") and not console_socket and not foreground:
            raise ConfigError("process.terminal", "a terminal needs --console-socket "
                              "(or `run` in the foreground)")
        _check_privileges(process)
        linux = config.get("linux", {})
        resources = linux.get("resources") or {}
        rootless = state_mod.is_rootless(rootless)
        if os.path.isdir(self.state.dir):
            # Said first (st.make below decides for good): the cgroup checks would otherwise
            # report the existing container's own cgroup, paused say, as the problem.
            from pyrunc.errors import ContainerExistsError
            raise ContainerExistsError(self.id)
        cgroup = None
        if rootless:  # cgroups are not ours to make (no delegation support yet)
            if resources:
                log.warning("linux.resources is ignored: a rootless container gets no cgroups")
        else:
            cgroup = cgroups.ContainerCgroup.plan(linux.get("cgroupsPath", ""), self.id)
            cgroup.check(resources, linux.get("devices") or [])  # before anything is made
        console = pidfd_out = None
        if console_socket:
            from pyrunc import terminal
            console = terminal.connect_console_socket(console_socket)
        net_devices = _net_devices_plan(linux, rootless)
        if pidfd_socket:
            from pyrunc import pidfd_socket as pidfd_mod
            try:
                pidfd_out = pidfd_mod.connect(pidfd_socket)
            except BaseException:
                _close_quietly(console)
                raise
        try:
            tracing, operators = _trace_file(self.trace_path, config, bundle, self.id)
            timing.end("checks")
            timing.begin("state-dir")
            st = self.state
            st.make()
        except BaseException:
            _close_quietly(console, pidfd_out)
            raise
        made_cgroups = []  # filled in while stage1 runs: see after_fork below
        helper = []  # the pid of cgroups' start_first_migration, reaped after the join
        try:
            if tracing:
                _start_trace(tracing, operators, bundle, config)
            protocol.checkpoint("state-dir")  # in the try: a failure here removes the dir too
            namespaces = config_mod.namespaces_of(config)
            cgroup_paths = cgroup.paths if cgroup else {}
            st.data = {
                "id": self.id, "bundle": bundle, "status_hint": CREATING,
                "rootfs": os.path.join(bundle, config["root"]["path"]),
                "created": state_mod.utc_now(), "owner": _owner(),
                "annotations": config.get("annotations") or {},
                # What create() will make, in case pyrunc dies while making it; the exact list
                # replaces it below.
                "cgroup_paths": cgroup_paths,
                "cgroups_created": cgroup.missing() if cgroup else [],
                "config": config,
            }
            if tracing:
                st.data["trace"] = tracing
            if "mount" not in namespaces:
                # The init's mounts will land in our own mount table, on a bind of the rootfs
                # onto itself: delete (or this create's failure) takes them off again.
                st.data["host_mounts_at"] = [os.path.realpath(st.data["rootfs"]),
                                             _mounts_at(os.path.realpath(st.data["rootfs"]))]
            if _asks_for_network(st.data["annotations"]):
                st.data["network"] = None  # from here on, delete releases leases by id
            st.save()
            network = _network_plan(self.id, config, st, rootless)
            notify_env = []
            if os.environ.get("NOTIFY_SOCKET"):
                from pyrunc import notify  # sd_notify pass-through, see there
                notify_env = [notify.prepare(config, st.dir)]
                st.data["notify_socket"] = notify.host_socket()
                st.save()
            os.mkfifo(st.fifo_path, 0o200)
            # Only the container's user may write (and so unblock) the fifo: runc leaves it
            # writable by everyone on the host. `start` reads it as root, or, rootless, as
            # that same user.
            owner = _host_ids(config)
            os.chown(st.fifo_path, *owner)
            os.chmod(st.fifo_path, 0o600 if owner[0] == os.geteuid() else 0o200)
            timing.end("state-dir")
            plan = plan_mod.InitPlan.from_config(
                config, process, bundle=bundle,
                rootfs=os.path.realpath(st.data["rootfs"]), container_id=self.id,
                new_flags=plan_mod.namespace_flags(namespaces),
                join=_open_namespaces({k: p for k, p in namespaces.items() if p}),
                fifo_fd=os.open(st.fifo_path, os.O_PATH | os.O_CLOEXEC),
                no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                preserve_fds=reserved_fds.count, passed_fds=reserved_fds.passed,
                extra_env=_listen_env() + notify_env, cgroup_paths=cgroup_paths)

            def after_fork():
                # Made while stage1 sets up namespaces on the other core; the init joins
                # them in on_pid. Recorded at once so `delete --force` finds them after a crash.
                if cgroup is None:
                    return
                timing.begin("cgroups-make")
                made_cgroups.extend(cgroup.create())
                helper.append(cgroup.start_first_migration())  # before the writes below
                protocol.checkpoint("cgroups-made")  # before the exact list is recorded
                st.data["cgroups_created"] = made_cgroups
                st.save()
                cgroup.apply(resources, linux.get("devices") or [])
                timing.end("cgroups-make")

            def on_pid(pid):
                if pidfd_out is not None:  # now, while the init waits for us: see there
                    pidfd_out.take(pid)
                st.data["pid"] = pid
                st.data["pid_start"] = state_mod.proc_start_time(pid)[1]
                st.save()
                protocol.checkpoint("init-pid")
                if network is not None:  # the init's new network namespace exists now
                    network.connect(pid)
                    protocol.checkpoint("network")
                if net_devices:
                    _move_net_devices(st, pid, net_devices)

            def join(pid):
                if cgroup is not None:
                    cgroup.join(pid)
            # The init's CPU affinity is reset, not the caller's (runc's rule; affinity.py).
            join_resetting_affinity = affinity.join_with(join)

            def join_cgroups(pid):
                timing.begin("cgroups-join")
                join_resetting_affinity(pid)
                timing.end("cgroups-join")
                protocol.checkpoint("cgroup-joined")

            def on_hooks():
                from pyrunc import hooks
                # "created": runtime.md's state is that after lifecycle step 2 (the
                # environment made), which these hooks (steps 3 and 4) follow.
                hook_state = dict(self.state.oci_state(), status=CREATED)
                hooks.run_hooks(config.get("hooks") or {}, "prestart", hook_state)
                hooks.run_hooks(config.get("hooks") or {}, "createRuntime", hook_state)

            try:
                timing.begin("spawn")
                # on the host, first
                plan = plan.replace(mount_fds=idmap.detached_mounts(config, bundle))
                spawned = spawn.spawn(plan, init.stage1, on_pid, linux.get("uidMappings"),
                                      linux.get("gidMappings"), after_fork, on_hooks,
                                      join_cgroups)
            except PyruncError:
                if cgroup is not None and made_cgroups and cgroup.oom_kills():
                    limit = resources.get("memory", {}).get("limit")
                    raise cgroups.CgroupError(
                        "linux.resources.memory.limit", f"{limit} bytes is too low: the "
                        "container's init was killed by the OOM killer during setup") from None
                raise
            finally:
                os.close(plan.fifo_fd)
                for fd in plan.mount_fds.values():  # the init has its copies, or failed
                    os.close(fd)
                if helper and helper[0]:
                    spawn.reap(helper.pop())
            timing.end("spawn")
            protocol.checkpoint("ready")
            if spawned.pty_master is not None and console is not None:
                from pyrunc import terminal
                terminal.send_master(console, spawned.pty_master)
                os.close(spawned.pty_master)
                spawned.pty_master = None
            if pidfd_out is not None:
                pidfd_out.send()
            st.data["status_hint"] = CREATED
            st.save()
            protocol.checkpoint("state-written")
            if pid_file:
                _write_pid_file(pid_file, spawned.pid)
            return spawned
        except BaseException as e:
            # runtime.md: a failing prestart, createRuntime or createContainer hook stops the
            # container and goes on with delete, poststop hooks included.
            self._destroy(made_cgroups, poststop=_is_hook_failure(e))
            raise
        finally:
            if tracing:
                from pyrunc import trace
                trace.uninstall()  # the children keep theirs
            _close_quietly(console, pidfd_out)
            st.unlock()

    def _destroy(self, made_cgroups=None, poststop=False, strict=False):
        """Remove everything of this container: processes, cgroups, state dir; then run the
        poststop hooks of a container that had started. A cgroup that cannot be removed (a
        process that will not leave) does not stop the rest: it is a warning, or with strict
        (delete, whose caller must hear of it, as from runc) the error raised at the end."""
        from pyrunc import cgroups
        st = self.state
        cgroup = self._cgroup()
        _signal_all(cgroup, signal.SIGKILL)  # first: it thaws a paused container
        pid = st.data.get("pid")
        if pid and state_mod.process_matches(pid, st.data.get("pid_start")):
            _signal_pid(pid, st.data.get("pid_start"), signal.SIGKILL)
            _wait_gone(pid, st.data.get("pid_start"))
        created = made_cgroups if made_cgroups is not None else st.data.get("cgroups_created", [])
        left = cgroups.destroy(created, list(cgroup.paths.values()))
        if st.data.get("host_mounts_at"):
            _unmount_down_to(*st.data["host_mounts_at"])
        if st.data.get("net_devices"):
            from pyrunc.network import netdevices
            problem = netdevices.move_out(st.data["net_devices"])
            if problem:  # the rest goes on: the state dir would only hold a stale record
                log.warning(problem)
        if "network" in st.data:
            from pyrunc.network import attach, ipam
            attach.detach(self.id, st.data["network"], ipam.Book.host(st.root))
        st.remove()
        if poststop:
            _run_hooks(st.data.get("config", {}), "poststop",
                       lambda: dict(st.oci_state(), status=STOPPED))
        if left is not None:
            if strict:
                raise left
            log.warning(str(left))

    # -- start / run -----------------------------------------------------------------------------

    def start(self):
        """Let the created init exec the container's process; returns at once."""
        st = self.state
        st.lock()
        relay = None
        try:
            st.load()
            status = st.status()
            if status != CREATED:
                raise StateError(f"cannot start a container that is {status}"
                                 if status != STOPPED else
                                 "cannot start a container that has stopped")
            if st.data.get("notify_socket"):
                from pyrunc import notify  # bound before the process can say it is ready
                relay = notify.Relay(st.dir, notify.host_socket() or st.data["notify_socket"])
            self._release_fifo()
            # Lifecycle step 9 follows the exec (step 8): "running", with its pid, even when a
            # short process has already exited by the time the hooks read it.
            _run_hooks(st.data.get("config", {}), "poststart",
                       lambda: dict(st.oci_state(), status=RUNNING, pid=st.data.get("pid", 0)))
        except BaseException:
            if relay is not None:
                relay.close()
            raise
        finally:
            st.unlock()
        if relay is not None:
            relay.forward(st.pid)  # without the lock: kill and delete may come meanwhile

    def _release_fifo(self):
        """Open the exec fifo: the init writes "0" (released), runs the startContainer hooks,
        writes "1" and execs, which closes its end: end-of-file after "01" means the
        container's process runs. Bounded: an init that is stopped or frozen cannot answer,
        and start says so rather than wait for it."""
        st = self.state
        why = self._init_stuck()
        if why:
            raise StateError(f"cannot start the container: {why}")
        timeout = START_TIMEOUT
        if st.data.get("config", {}).get("hooks"):
            from pyrunc import hooks
            timeout += hooks.total_timeout(st.data["config"]["hooks"], "startContainer")
        deadline = time.monotonic() + timeout
        fd = os.open(st.fifo_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        pidfd = _pidfd(st.pid)
        received = b""
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if pidfd is not None:
                poller.register(pidfd, select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                events = dict(poller.poll(max(0.0, min(left, 0.25)) * 1000))
                if fd in events:
                    data = os.read(fd, 16)
                    if data:
                        received += data
                        continue
                    if received:  # end of file, after the init had opened its end
                        break
                if pidfd is not None and pidfd in events and not received:
                    raise StateError("the container's init exited before it could start")
                if not events:
                    why = self._init_stuck()
                    if why:
                        raise StateError(f"the container did not start: {why}")
                    if left <= 0:
                        raise StateError(f"the container's init (pid {st.pid}) did not start "
                                         f"its process within {timeout:g} s")
                elif fd in events and not received:
                    # POLLHUP before the init opened its end: nothing to read yet, and poll
                    # would report it again at once.
                    time.sleep(0.001)
        finally:
            os.close(fd)
            if pidfd is not None:
                os.close(pidfd)
        os.unlink(st.fifo_path)
        if received != b"01":
            raise StateError("the container's process did not start: a startContainer hook "
                             "failed or the init died (see the container's stderr)")

    def _init_stuck(self):
        """Why the container's init cannot run now (stopped by a signal, or frozen with its
        cgroup), or None."""
        st = self.state
        info = state_mod.proc_start_time(st.pid)
        if info is not None and info[0] in ("T", "t"):
            return (f"its init (pid {st.pid}) is stopped (SIGSTOP?): send it SIGCONT, or "
                    "delete the container")
        if st._frozen():
            return "it is paused (its cgroup is frozen): resume it first"
        return None

    @classmethod
    def run(cls, container_id, bundle=".", root=state_mod.DEFAULT_ROOT, console_socket=None,
            pid_file=None, no_pivot=False, no_new_keyring=False, preserve_fds=0, detach=False,
            rootless=None, keep=False, no_subreaper=False, trace=None, pidfd_socket=None):
        """create + start. In the foreground, wait for the container's process, forward
        signals to it, remove the container (unless keep: it stays, stopped, for `state` and
        `delete`) and return its exit status. no_subreaper: pyrunc stays the subreaper only
        until the container's process is its child, and reaps none of what it leaves."""
        c = cls(container_id, root)
        c.trace_path = trace
        if detach:  # _create refuses a terminal without a console socket here
            c._create(bundle, console_socket, pid_file, no_pivot, no_new_keyring, preserve_fds,
                      foreground=False, rootless=rootless, pidfd_socket=pidfd_socket)
            c.start()
            return 0
        from pyrunc import foreground, timing
        with foreground.Subreaper() as reaper:
            spawned = c._create(bundle, console_socket, pid_file, no_pivot, no_new_keyring,
                                preserve_fds, foreground=True, rootless=rootless,
                                pidfd_socket=pidfd_socket)
            if no_subreaper:
                reaper.stop()
            try:
                timing.begin("start")
                c.start()
                timing.end("start")
                timing.begin("wait")
                return foreground.wait_foreground(spawned.pid, spawned.pty_master, reaper)
            finally:
                timing.end("wait")
                if not keep:
                    timing.begin("delete")
                    c._delete_after_run()
                    timing.end("delete")

    def _delete_after_run(self):
        st = self.state
        try:
            st.lock(on_busy=self._kill_lock_holders)
        except PyruncError as e:
            log.warning(f"the container is left behind: {e}")
            return
        try:
            st.load()
            self._destroy(poststop=True)
        finally:
            st.unlock()

    # -- exec ------------------------------------------------------------------------------------

    def exec(self, process, console_socket=None, detach=False, pid_file=None, preserve_fds=0,
             cgroup=(), ignore_paused=False, pidfd_socket=None):
        """Run process (a config.json process object) inside the running container. Returns
        the exit status (foreground) or the pid (detach). cgroup: `exec --cgroup` values (a
        sub-cgroup to join, see cgroups.layout.exec_paths); ignore_paused: exec into a paused
        container too, the process then waiting for `resume` (as runc's --ignore-paused);
        pidfd_socket: a unix socket that receives a pidfd of the process (pidfd_socket.py)."""
        with _reserved_fds(preserve_fds + _listen_fds()) as reserved_fds:  # see fds.py
            if detach:
                return self._exec(process, console_socket, True, pid_file, reserved_fds, None,
                                  cgroup, ignore_paused, pidfd_socket)
            from pyrunc import foreground
            with foreground.Subreaper() as reaper:
                return self._exec(process, console_socket, False, pid_file, reserved_fds,
                                  reaper, cgroup, ignore_paused, pidfd_socket)

    def _exec(self, process, console_socket, detach, pid_file, reserved_fds, reaper, cgroup,
              ignore_paused, pidfd_socket):
        from pyrunc import config as config_mod, foreground
        st = self.state
        st.lock()
        try:
            st.load()
            status = st.status()
            if status == PAUSED and not ignore_paused:
                raise StateError("cannot exec in a paused container (--ignore-paused execs "
                                 "anyway: the process then waits for `resume`)")
            if status not in (RUNNING, CREATED, PAUSED):
                raise StateError(f"cannot exec in a container that is {status}")
            joined = self._exec_cgroup(cgroup)
            from pyrunc import init, plan as plan_mod, spawn
            helper = joined.start_first_migration()  # see there: it overlaps what follows
            console = pidfd_out = None
            root_fd = -1
            try:
                if pidfd_socket:
                    from pyrunc import pidfd_socket as pidfd_mod
                    pidfd_out = pidfd_mod.connect(pidfd_socket)
                config_mod.validate_process(process, "process")
                _check_privileges(process)
                if process.get("terminal") and detach and not console_socket:
                    raise ConfigError("process.terminal", "cannot allocate a terminal when "
                                      "detached without --console-socket")
                config = st.data.get("config", {})
                if console_socket:
                    from pyrunc import terminal
                    console = terminal.connect_console_socket(console_socket)
                if "mount" not in config_mod.namespaces_of(config):
                    # No mount namespace: the init is only chrooted, and exec must be too (the
                    # namespaces joined below leave it in our root otherwise). Opened after the
                    # status check that pinned st.pid to the container's init.
                    root_fd = os.open(f"/proc/{st.pid}/root", os.O_PATH | os.O_DIRECTORY
                                      | os.O_CLOEXEC)
                # spawn closes the namespace fds in every case, once they are open
                plan = plan_mod.InitPlan.from_config(
                    config, process, container_id=self.id, root_fd=root_fd,
                    join=_open_namespaces(_container_namespaces(st.pid, config)),
                    preserve_fds=reserved_fds.count, passed_fds=reserved_fds.passed,
                    extra_env=_listen_env(), is_exec=True,
                    cgroup_paths=st.data.get("cgroup_paths", {}), frozen_ok=ignore_paused)
                if status == PAUSED:
                    # The process will wait in the frozen cgroup for `resume`, which takes the
                    # lock: ours goes now (the namespaces are open, the pid is pinned).
                    st.unlock()
                def on_pid(pid):
                    if pidfd_out is not None:  # while the process waits for us: see there
                        pidfd_out.take(pid)
                    exec_join(pid)

                exec_join = _exec_join(joined, process)
                spawned = spawn.spawn(plan, init.stage1, on_pid)
                try:
                    if spawned.pty_master is not None and console is not None:
                        from pyrunc import terminal
                        terminal.send_master(console, spawned.pty_master)
                        os.close(spawned.pty_master)
                        spawned.pty_master = None
                    if pidfd_out is not None:
                        pidfd_out.send()
                except BaseException:
                    os.kill(spawned.pid, signal.SIGKILL)  # not left running behind the error
                    raise
            finally:
                _close_quietly(console, pidfd_out)
                if root_fd >= 0:
                    os.close(root_fd)
                if helper:
                    spawn.reap(helper)
            if pid_file:
                try:
                    _write_pid_file(pid_file, spawned.pid)
                except PyruncError:
                    os.kill(spawned.pid, signal.SIGKILL)  # not left running behind the error
                    raise
        finally:
            st.unlock()
        if detach:
            return spawned.pid
        return foreground.wait_foreground(spawned.pid, spawned.pty_master, reaper)

    def _exec_cgroup(self, requests):
        """The cgroups an exec'd process joins: the container's own, or the sub-cgroups that
        `exec --cgroup` names, which must exist (runc: an error otherwise)."""
        from pyrunc.cgroups import ContainerCgroup, layout
        from pyrunc.errors import UsageError
        own = self.state.data.get("cgroup_paths", {})
        if not requests:
            return ContainerCgroup(own)
        if not own:
            raise UsageError("--cgroup: the container has no cgroups (rootless)")
        try:
            paths = layout.exec_paths(own, requests)
        except ValueError as e:
            raise UsageError(f"--cgroup {e}") from None
        for path in paths.values():
            if not os.path.isdir(path):
                raise UsageError(f"--cgroup: {path} does not exist")
        return ContainerCgroup(paths)


    # -- kill / delete / state -------------------------------------------------------------------

    def kill(self, sig=signal.SIGTERM, all_processes=False):
        """Signal the init (or, with all_processes, every process in its cgroups); sig is a
        number or a name like 'KILL' or 'SIGTERM'."""
        if isinstance(sig, str):
            from pyrunc.names import parse_signal
            sig = parse_signal(sig)
        st = self.state
        st.lock()
        try:
            st.load()
            # A paused container is signalled as a running one (the signal waits for the
            # thaw): whether it is frozen does not matter here, and is not looked up.
            status = st.status(paused=False)
            if status == STOPPED and st.pid:
                from pyrunc import exitrecord
                exitrecord.observe(st)  # kill is often the first to see the init gone
            if status in (STOPPED, CREATING) and not all_processes:
                raise StateError("container not running")
            signalled = ()
            if all_processes:
                signalled = _signal_all(self._cgroup(), sig)
            # Once only: a second SIGINT or SIGUSR1 may mean something else to the process.
            if status not in (STOPPED, CREATING) and st.pid not in signalled:
                _signal_pid(st.pid, st.data.get("pid_start"), sig)
        finally:
            st.unlock()

    def delete(self, force=False):
        st = self.state
        # --force: whatever the container's processes hold, it goes (see _kill_lock_holders).
        st.lock(on_busy=self._kill_lock_holders if force else None)
        try:
            st.load()
            status = st.status()
            # A created container's init is alive too (runtime.md: deleting a container whose
            # process still runs MUST fail and have no effect); runc 1.1 kills it instead.
            if status in (RUNNING, PAUSED, CREATED) and not force:
                raise StateError(f"cannot delete container {self.id} that is not stopped: "
                                 f"{status} (--force kills it first)")
            if status == CREATING and not force and st.data.get("pid"):
                raise StateError(f"cannot delete container {self.id} that is being created")
            # A created container that was paused reads as paused: no poststop for it, as for
            # a created one (start removes the exec fifo; a paused started one has none).
            never_started = status == PAUSED and os.path.exists(st.fifo_path)
            if st.data.get("status_hint", CREATING) == CREATING:
                # The create never finished and nobody holds its lock: its pyrunc died.
                from pyrunc import postmortem
                postmortem.record_unfinished_create(st.root, self.id, st.data)
            self._destroy(poststop=status in (RUNNING, PAUSED, STOPPED) and not never_started,
                          strict=True)
        finally:
            st.unlock()

    def _kill_lock_holders(self):
        """While delete --force waits for the lock: a process of this container that holds it
        (an fd on the state dir that reached the container) would otherwise make every command
        on the container wait for it forever. Such holders are killed, with the rest of the
        container, which is being deleted anyway; a holder outside the container (another
        pyrunc command) is waited for, within the lock's bound."""
        from pyrunc import locks
        pids = locks.holders(self.state.dir)
        if not pids:
            return
        try:
            self.state.load()  # without the lock: state.json is replaced atomically
        except PyruncError:
            return
        ours = [p for p in pids if self._is_own_process(p)]
        if not ours:
            return
        log.warning(f"killing the container's processes that hold its lock: "
                    f"{', '.join(map(str, ours))}")
        _signal_all(self._cgroup(), signal.SIGKILL)
        for pid in ours:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _is_own_process(self, pid):
        """pid belongs to this container: its init, a process in its cgroups, or one in its pid
        namespace (a rootless container has no cgroups)."""
        st = self.state
        init_pid = st.data.get("pid")
        if not init_pid or not state_mod.process_matches(init_pid, st.data.get("pid_start")):
            init_pid = 0
        if pid == init_pid or pid in self._cgroup().pids():
            return True
        if init_pid:
            try:
                theirs = os.readlink(f"/proc/{init_pid}/ns/pid")
                return (theirs != os.readlink("/proc/self/ns/pid")
                        and os.readlink(f"/proc/{pid}/ns/pid") == theirs)
            except OSError:
                return False
        return False

    # -- cgroup verbs: pause, resume, update, processes, stats ----------------------------------

    def _cgroup_of_live(self, allowed, verb):
        """Lock, load and check the status; returns the container's cgroup (the lock is held:
        the caller unlocks)."""
        st = self.state
        st.lock()
        try:
            st.load()
            status = st.status()
            if status not in allowed:
                raise StateError(f"cannot {verb} a container that is {status}")
            if not st.data.get("cgroup_paths"):
                raise StateError(f"cannot {verb} a container without cgroups (rootless)")
            return self._cgroup()
        except BaseException:
            st.unlock()
            raise

    def pause(self):
        """Freeze every process of the container (state `paused`)."""
        cgroup = self._cgroup_of_live((RUNNING, CREATED), "pause")
        try:
            cgroup.set_frozen(True)
        finally:
            self.state.unlock()

    def resume(self):
        cgroup = self._cgroup_of_live((PAUSED,), "resume")
        try:
            cgroup.set_frozen(False)
        finally:
            self.state.unlock()

    def update(self, resources):
        """Apply a LinuxResources object to the running container; fields left out (or 0,
        where runc reads 0 as unset) keep their values. The stored config follows."""
        cgroup = self._cgroup_of_live((RUNNING, CREATED, PAUSED), "update")
        st = self.state
        try:
            linux = st.data.setdefault("config", {}).setdefault("linux", {})
            cgroup.apply(resources, linux.get("devices") or [], updating=True,
                         previous=linux.get("resources") or {})
            linux["resources"] = _merged(linux.get("resources") or {}, resources)
            st.save()
        finally:
            st.unlock()

    def _cgroup(self):
        """The driver over this container's cgroups (none for a rootless one)."""
        from pyrunc.cgroups import ContainerCgroup
        return ContainerCgroup(self.state.data.get("cgroup_paths", {}))

    def processes(self):
        """The pids of every process in the container's cgroups."""
        self.state.load()
        return self._cgroup().pids()

    def stats(self):
        """Resource usage in runc's `events --stats` shape."""
        self.state.load()
        return self._cgroup().stats()

    def wait(self, timeout=None):
        """Block until the container's init has exited (True) or timeout seconds pass (False).
        The init is not our child, so its exit status is not ours to read: only `run` and a
        foreground `exec` report it."""
        self.state.load()
        pidfd = _pidfd(self.state.pid) if self.state.status() != STOPPED else None
        if pidfd is None:
            return True
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
            return bool(ready)
        finally:
            os.close(pidfd)

    def oci_state(self):
        self.state.load()
        return self.state.oci_state()


def _close_quietly(*closables):
    for c in closables:
        if c is not None:
            c.close()


def _run_hooks(config, kind, state_of):
    """hooks.run_hooks(config, kind, state_of()) when config has hooks of that kind: without,
    neither pyrunc.hooks nor the state (a look at /proc and the freezer) is needed, and start
    and delete are the commands engines run for every container."""
    if (config.get("hooks") or {}).get(kind):
        from pyrunc import hooks
        hooks.run_hooks(config["hooks"], kind, state_of())


def _is_hook_failure(exc):
    from pyrunc.errors import InitError
    from pyrunc.hooks import HookError
    return isinstance(exc, HookError) or (isinstance(exc, InitError) and "hooks" in exc.step)


# The fields whose 0 is a value, not runc's "unset" (runtime-spec 1.3: pids.limit 0 is a limit).
_ZERO_IS_A_VALUE = {("pids", "limit")}


def _merged(old, new, path=()):
    """new over old, dict by dict; None and 0 (runc's "unset") leave the old value."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value, path + (key,))
        elif value is not None and value != [] and (
                value != 0 or path + (key,) in _ZERO_IS_A_VALUE):
            out[key] = value
    return out


def _write_pid_file(path, pid):
    try:
        state_mod.write_atomic(os.path.abspath(path), str(pid).encode())
    except OSError as e:
        raise PyruncError(f"--pid-file {path}: {e.strerror}") from None


def list_containers(root=state_mod.DEFAULT_ROOT):
    """The state of every container under root (no locks taken: state.json is atomic)."""
    result = []
    for container_id in state_mod.list_ids(root):
        try:
            st = state_mod.ContainerState(root, container_id).load()
        except PyruncError:
            continue
        result.append(st.oci_state())
    return result


# -- helpers ---------------------------------------------------------------------------------------

NETWORK_ANNOTATION = "pyrunc.network"
TRACE_ANNOTATION = "pyrunc.trace"
# The host-wide switch: with this set in the environment of whatever calls pyrunc (containerd's
# or podman's service, a shell), every create writes its trace to DIR/<id>.jsonl.
TRACE_DIR_VARIABLE = "PYRUNC_TRACE_DIR"


def _start_trace(path, from_option, bundle, config):
    """The annotation's file is not followed if it is a symlink; --trace's (and the host-wide
    directory's) is the caller's to name, as --log's."""
    from pyrunc import trace
    try:
        trace.install(path, os.path.realpath(os.path.join(bundle, config["root"]["path"])),
                      follow=from_option)
    except OSError as e:
        if from_option:
            from pyrunc.errors import UsageError
            raise UsageError(f"trace {path} (--trace, or ${TRACE_DIR_VARIABLE}): "
                             f"{e.strerror}") from None
        raise ConfigError(f"annotations.{TRACE_ANNOTATION}", f"{path}: {e.strerror}") from None


def _trace_file(option, config, bundle, container_id):
    """(path, named by the operator) of the trace: --trace FILE (from our cwd), else the
    bundle's pyrunc.trace annotation, a path inside the bundle (annotations may come from a
    pod's author, who must not have pyrunc append to a file of the host), else
    $PYRUNC_TRACE_DIR/<id>.jsonl. (None, False): no trace, and trace.py is not even imported."""
    if option:
        return os.path.abspath(option), True
    annotated = (config.get("annotations") or {}).get(TRACE_ANNOTATION)
    if annotated:
        if annotated.startswith("/") or ".." in annotated.split("/"):
            raise ConfigError(f"annotations.{TRACE_ANNOTATION}", f"{annotated!r} must be a "
                              "path inside the bundle (relative, without '..')")
        return os.path.join(bundle, annotated), False
    directory = os.environ.get(TRACE_DIR_VARIABLE)
    if directory:
        return os.path.join(os.path.abspath(directory), f"{container_id}.jsonl"), True
    return None, False


def _asks_for_network(annotations):
    return any(k == NETWORK_ANNOTATION or k.startswith(NETWORK_ANNOTATION + ".")
               for k in annotations)


def _network_plan(container_id, config, st, rootless):
    """Lease the addresses of a bundle that asks for networks (pyrunc.network); the links
    are made in on_pid. None (and no import of pyrunc.network) when it asks for none."""
    if not _asks_for_network(st.data["annotations"]):
        return None
    from pyrunc.network import attach

    def on_record(record):
        st.data["network"] = record
        st.save()
    return attach.plan_for_create(container_id, config, st.root, st.dir, rootless, on_record)


def _exec_join(cgroup, process):
    """The exec'd process's cgroup join with its CPU affinity around it: execCPUAffinity's
    initial and final, or the reset (affinity.py)."""
    from pyrunc import affinity
    wanted = process.get("execCPUAffinity")
    return affinity.join_with(cgroup.join, wanted and affinity.validate(
        wanted, "process.execCPUAffinity"))


def _net_devices_plan(linux, rootless):
    """linux.netDevices checked against the host before anything is made (each device must
    exist here); [] (and no netlink import) without them."""
    if not linux.get("netDevices"):
        return []
    from pyrunc.network import netdevices
    if rootless:
        raise ConfigError("linux.netDevices", "moving network devices needs root (rootless "
                          "containers lack CAP_NET_ADMIN in the host's network namespace)")
    plan = netdevices.validate(linux["netDevices"], {
        ns["type"]: ns.get("path") or "" for ns in linux.get("namespaces", [])})
    netdevices.check_host(plan)
    return plan


def _move_net_devices(st, pid, plan):
    """Into the init's new network namespace, held first by a bind mount in the state dir
    (see netdevices.py); the record is saved before each step that delete must undo."""
    from pyrunc.network import netdevices
    st.data["net_devices"] = {"netns": os.path.join(st.dir, netdevices.NETNS_FILE),
                              "devices": netdevices.record_addresses(plan)}
    st.save()
    netdevices.hold_namespace(pid, st.dir)
    netdevices.move_in(plan, st.data["net_devices"]["netns"])


def _owner():
    uid = os.getuid()
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.split(":")
                if len(fields) > 2 and fields[2] == str(uid):
                    return fields[0]
    except OSError:
        pass
    return str(uid)


def _check_privileges(process):
    """Refuse up front what this host will not grant, naming the field."""
    from pyrunc import capabilities, names
    import resource

    plan = capabilities.CapabilityPlan(process.get("capabilities", {}),
                                       warn=lambda m: log.warning(m))
    missing = plan.missing_from(capabilities.own_bounding_set())
    if missing:
        raise ConfigError("process.capabilities",
                          f"{', '.join(missing)} not in pyrunc's own bounding set on this host")
    has_sys_resource = capabilities.own_bounding_set() & (1 << names.CAP_NUMBERS["CAP_SYS_RESOURCE"])
    from pyrunc.process_setup import rlimit_value
    for i, rl in enumerate(process.get("rlimits", [])):
        _soft, hard = resource.getrlimit(names.RLIMITS[rl["type"]])
        wanted = rlimit_value(rl["hard"])
        if not has_sys_resource and hard != resource.RLIM_INFINITY and (
                wanted > hard or wanted == resource.RLIM_INFINITY):
            raise ConfigError(f"process.rlimits[{i}]",
                              f"{rl['type']} hard limit {rl['hard']} is above the host's {hard} "
                              "and pyrunc lacks CAP_SYS_RESOURCE")


def _host_ids(config):
    """The host uid and gid of the container's process user (through the user ns maps)."""
    user = config["process"].get("user", {})
    linux = config.get("linux", {})
    return (_map_id(user.get("uid", 0), linux.get("uidMappings")),
            _map_id(user.get("gid", 0), linux.get("gidMappings")))


def _map_id(container_id, mappings):
    if not mappings:
        return container_id
    for m in mappings:
        if m["containerID"] <= container_id < m["containerID"] + m["size"]:
            return m["hostID"] + container_id - m["containerID"]
    return 0  # unmapped: the init will fail to switch to it and say so


def _open_namespaces(paths):
    """Open namespace files to join, user namespace first (it decides what the others allow)."""
    opened = []
    try:
        for kind in sorted(paths, key=lambda k: k != "user"):
            try:
                fd = os.open(paths[kind], os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                raise ConfigError(f"linux.namespaces.{kind}.path",
                                  f"{paths[kind]}: {e.strerror}") from None
            opened.append((kind, fd))
            _check_namespace_type(fd, kind, paths[kind])
    except BaseException:
        for _kind, fd in opened:
            os.close(fd)
        raise
    return opened


def _mounts_at(path):
    """How many mounts are stacked at path in our mount table."""
    escaped = path.replace("\\", "\\134").replace(" ", "\\040").replace("\n", "\\012")
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if line.split(" ", 5)[4] == escaped)


def _unmount_down_to(path, count):
    """Detach what was mounted at path (and so everything under it) since it held count
    mounts: a container without a mount namespace of its own leaves its mounts in ours."""
    from pyrunc import native
    from pyrunc.mountopts import MNT_DETACH
    while _mounts_at(path) > count:
        native.umount2(path, MNT_DETACH)


NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3): the CLONE_NEW* type of a namespace file


def _check_namespace_type(fd, kind, path):
    """A path must name a namespace of its entry's type (runtime-spec: an error otherwise);
    setns() would only say EINVAL, and only in the child."""
    import fcntl
    from pyrunc.names import NAMESPACES
    try:
        actual = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        raise ConfigError(f"linux.namespaces.{kind}.path",
                          f"{path} is not a namespace file") from None
    if actual != NAMESPACES[kind][0]:
        named = next((k for k, (flag, _) in NAMESPACES.items() if flag == actual), hex(actual))
        raise ConfigError(f"linux.namespaces.{kind}.path",
                          f"{path} is a {named} namespace, not a {kind} namespace")


def _container_namespaces(pid, config):
    """For exec: every namespace of the container's init that differs from ours."""
    from pyrunc.config import namespaces_of
    from pyrunc.names import NAMESPACES
    result = {}
    for kind in namespaces_of(config):
        proc_name = NAMESPACES[kind][1]
        path = f"/proc/{pid}/ns/{proc_name}"
        try:
            if os.stat(path).st_ino != os.stat(f"/proc/self/ns/{proc_name}").st_ino:
                result[kind] = path
        except FileNotFoundError:
            continue
    return result


def reserve_caller_fds(preserve_fds):
    """For the CLI, before it opens anything of its own: keep the preserved range and stdio
    free of pyrunc's fds (fds.py), when there is anything to keep."""
    count = preserve_fds + _listen_fds()
    if count or not _stdio_open():
        from pyrunc import fds
        fds.reserve(count)


def _reserved_fds(count):
    """fds.reserved(count); with nothing to reserve (no preserved fds, stdio open: the common
    case) a stand-in, and fds.py is not even imported."""
    if count == 0 and _stdio_open():
        return _NoReservation()
    from pyrunc import fds
    return fds.reserved(count)


class _NoReservation:
    count = 0
    passed = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _stdio_open():
    try:
        for fd in (0, 1, 2):
            os.get_inheritable(fd)
    except OSError:
        return False
    return True


def _listen_fds():
    """Socket activation fds meant for us: LISTEN_FDS counts only when LISTEN_PID is our pid
    (as systemd says, and runc checks). They sit at 3.. and are passed on like preserved fds."""
    try:
        if int(os.environ.get("LISTEN_PID", "0")) != os.getpid():
            return 0
        return int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return 0


def _listen_env():
    n = _listen_fds()
    return [f"LISTEN_FDS={n}", "LISTEN_PID=1"] if n else []


def _signal_all(cgroup, sig):
    """Signal every process in the container's cgroups; returns the pids signalled. A SIGKILL
    on cgroup v2 goes through cgroup.kill (ContainerCgroup.kill_all). Otherwise frozen
    meanwhile, when a freezer is at hand, so that nothing forks past the signal; a paused
    container is thawed after a SIGKILL (a frozen task cannot die)."""
    pids = cgroup.pids()
    if not pids:
        return set()
    if cgroup.kill_all(sig):  # v2: the kernel kills the whole subtree, no freezer needed
        return set(pids)
    was_frozen = cgroup.frozen()
    try:
        if not was_frozen:
            # Briefly: a task that cannot freeze (in an uninterruptible sleep) must not hold
            # kill or delete for long; it is signalled unfrozen then.
            cgroup.set_frozen(True, timeout=FREEZE_TIMEOUT)
    except PyruncError:
        pass  # no freezer, or it did not freeze in time: signal as we are
    signalled = set()
    try:
        for pid in cgroup.pids():
            try:
                os.kill(pid, sig)
                signalled.add(pid)
            except ProcessLookupError:
                pass
    finally:
        if not was_frozen or sig == signal.SIGKILL:
            try:
                cgroup.set_frozen(False)
            except PyruncError:
                pass
    return signalled


def _pidfd(pid):
    # os.pidfd_open rather than native's: start and kill would otherwise load the cffi
    # extension (~1 ms) for this one call.
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def _signal_pid(pid, start_time, sig):
    """Signal through a pidfd taken after checking the start time: a recycled pid is safe."""
    pidfd = _pidfd(pid)
    if pidfd is None:
        return
    try:
        if state_mod.process_matches(pid, start_time):
            signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def _wait_gone(pid, start_time, timeout=10.0):
    pidfd = _pidfd(pid)
    if pidfd is None:
        return
    try:
        select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
