"""The tests' double of pyrunc: the installed runtime plus two switches it does not have.

    PYRUNC_TEST_KILL_AT=<step>            SIGKILL pyrunc when its parent reaches
                                          protocol.checkpoint(<step>) (PARENT_STEPS, NETWORK_STEPS)
    PYRUNC_TEST_FAIL_AT=<step>            raise an error there instead: a failure pyrunc itself
                                          handles (cleans up, keeps a post-mortem), not a kill
    PYRUNC_TEST_DISABLE_PROTECTION=a,b    replace the named defences (DEFENCES) with what a
                                          runtime without them would do

It is run as `<the installed venv's python> -I tests/pyrunc_faulty.py <pyrunc arguments>`
(conftest.FAULTY, Runtime.faulty()); with neither variable set it behaves as `pyrunc`. The
installed package reads no PYRUNC_TEST_* variable (tests/unit/test_test_double.py greps it): the
switches live here, as youki keeps its test double out of its release build.

The replacements are module attributes set before pyrunc.entry.main() runs. Stage1 and the init
are forked from this interpreter and never re-exec it, so they carry the replacements; every
caller looks the function up in its module at call time (protocol.checkpoint(...), or a bare
name inside the defining module), never through a name bound at import elsewhere.
"""
import os
import signal
import sys

# The steps at which the parent calls protocol.checkpoint on the init path, in that order.
PARENT_STEPS = ("state-dir", "forked", "cgroups-made", "init-pid", "continued", "cgroup-joined",
                "ready", "state-written")
# Only reached by a bundle that asks for a network (tests/integration/test_network.py).
NETWORK_STEPS = ("network",)


def _skip(*_args):
    """A defence switched off: nothing is checked."""


def _close_only_pyruncs_own_fds(plan, chan, _kernel):
    """init._close_inherited_fds switched off: a runtime that trusts its caller's fds. Its
    own (not inheritable: the state lock above all, which a container must never hold) are
    still closed; whatever the caller leaked to it stays open for the container."""
    keep = {chan.fileno(), plan.fifo_fd, *(fd for _kind, fd in plan.join)}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd < 3 + plan.preserve_fds or fd in keep:
            continue
        try:
            if not os.get_inheritable(fd):
                os.close(fd)
        except OSError:  # the directory listing's own fd, closed by now
            pass


def _make_target_following_symlinks(kernel, root_fd, destination, _kind):
    """rootfs.ordinary_directory switched off: the mount point is made and opened as any other,
    symlinks followed (inside the rootfs)."""
    return kernel.make_target(root_fd, destination, True)


def _null_by_path(kernel, _root_fd):
    """rootfs.verified_null switched off: whatever /dev/null leads to, unchecked."""
    return kernel.open("/dev/null", os.O_PATH | os.O_CLOEXEC)


def _console_following_symlinks(kernel, root_fd):
    """rootfs.console_target switched off: /dev/console made and opened as any mount point,
    a symlink followed (inside the rootfs)."""
    return kernel.make_target(root_fd, "/dev/console", False)


def _write_proc_by_path(path, text):
    """procfs.write switched off: open /proc/<path> by path, as most runtimes did, and write."""
    with open("/proc/" + path.strip("/"), "w") as f:
        f.write(text)


# name -> what it replaces: (module, function, replacement). Several functions make one
# defence where the attack has several ways in (the program's path and its #! chain; fds
# closed in stage1 and marked close-on-exec at the end; cwd checked before and after chdir).
DEFENCES = {
    # CVE-2019-5736, CVE-2024-21626 attack 3
    "exe-check": [("pyrunc.process_setup", "refuse_runtime_binary", _skip),
                  ("pyrunc.process_setup", "refuse_magic_links", _skip)],
    # CVE-2024-21626 attack 1
    "fd-cleanup": [("pyrunc.init", "_close_inherited_fds", _close_only_pyruncs_own_fds),
                   ("pyrunc.process_setup", "close_on_exec_past", _skip)],
    # CVE-2024-21626 attack 2
    "cwd-check": [("pyrunc.rootfs", "refuse_magic_link_cwd", _skip),
                  ("pyrunc.process_setup", "refuse_cwd_outside_root", _skip)],
    # CVE-2016-9962, and what CVE-2019-5736 needs from a waiting init
    "dumpable": [("pyrunc.init", "_make_undumpable", _skip)],
    # CVE-2019-19921: proc and sysfs on a symlink, or not there after the mount
    "proc-target": [("pyrunc.rootfs", "ordinary_directory", _make_target_following_symlinks),
                    ("pyrunc.rootfs", "verify_fs_type", _skip)],
    # CVE-2025-31133: the masks' /dev/null
    "masked-null": [("pyrunc.rootfs", "verified_null", _null_by_path)],
    # CVE-2025-52565: /dev/console's bind
    "console-target": [("pyrunc.rootfs", "console_target", _console_following_symlinks),
                       ("pyrunc.rootfs", "verify_console", _skip)],
    # CVE-2025-52881: writes to /proc
    "procfs-writes": [("pyrunc.procfs", "write", _write_proc_by_path)],
}


def _kill_at(step):
    def checkpoint(reached):
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)
    return checkpoint


def _fail_at(step):
    def checkpoint(reached):
        from pyrunc import protocol
        from pyrunc.errors import PyruncError
        protocol.REACHED.append(reached)  # what the real checkpoint does, for the post-mortem
        if reached == step:
            raise PyruncError(f"injected failure at checkpoint {step!r}")
    return checkpoint


def install(env):
    """Put the switches `env` asks for in place. An unknown step or defence, or a function
    of pyrunc's that is no longer there, is an error: a test would otherwise pass without
    anything having been injected."""
    import importlib

    for variable, replacement in (("PYRUNC_TEST_KILL_AT", _kill_at),
                                  ("PYRUNC_TEST_FAIL_AT", _fail_at)):
        step = env.get(variable)
        if step:
            if step not in PARENT_STEPS + NETWORK_STEPS:
                raise SystemExit(f"pyrunc_faulty: no kill point {step!r}")
            from pyrunc import protocol
            protocol.checkpoint = replacement(step)
    for name in filter(None, env.get("PYRUNC_TEST_DISABLE_PROTECTION", "").split(",")):
        if name not in DEFENCES:
            raise SystemExit(f"pyrunc_faulty: no defence {name!r} (known: {sorted(DEFENCES)})")
        for module_name, function, replacement in DEFENCES[name]:
            module = importlib.import_module(module_name)
            if not callable(getattr(module, function, None)):
                raise SystemExit(f"pyrunc_faulty: {module_name}.{function} is gone")
            setattr(module, function, replacement)


def main():
    install(os.environ)
    from pyrunc.entry import main as pyrunc_main
    return pyrunc_main()


if __name__ == "__main__":
    sys.exit(main())
