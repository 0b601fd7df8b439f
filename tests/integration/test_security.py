"""runc's CVE classes, tried against pyrunc with real containers, one section a class:

- symlinked mount targets (CVE-2021-30465, CVE-2019-16884 and kin),
- file descriptors leaking into the container (CVE-2024-21626),
- /proc/self/exe: the runtime's binary reachable, runnable or writable from inside
  (CVE-2019-5736),
- the waiting init traced or inspected from inside the container (CVE-2016-9962),
- the privileges the process gets: capabilities, no_new_privs, seccomp,
- masked paths, read-only paths and a read-only root, and the /dev/null the masks are
  (CVE-2025-31133),
- proc and sysfs on a symlink (CVE-2019-19921),
- the /dev/console bind (CVE-2025-52565),
- the runtime's own /proc writes redirected (CVE-2025-52881),
- racers for the last four: a process swapping the path in a tight loop while pyrunc creates
  containers; no write may land outside its target.

Host state is checked from the outside (mountinfo, the host files themselves, /proc/<pid>);
the container's view from the output of commands run inside it. A test marked PROTECTION runs
twice: the attack must fail against the installed pyrunc and succeed against the tests' double
with that defence switched off (tests/pyrunc_faulty.py). Where the attacker is a second
container that shares a mount with this one, it is a host directory bound into the container
(as /dev, or as /run) that the test, playing the other container, fills."""
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import struct
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from conftest import PYRUNC, host_mounts_mentioning, wait_until
from consoleutil import ConsoleSink

CAP_BITS = {"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_PTRACE": 19,
            "CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29}


DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def new_id(kind):
    return f"pyrunc-sec-{kind}-{uuid.uuid4().hex[:6]}"


def cap_mask(names):
    mask = 0
    for name in names:
        mask |= 1 << CAP_BITS[name]
    return mask


def status_fields(text):
    """'Key:\tvalue' lines of a /proc/<pid>/status dump -> {Key: value}."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def runtime_python():
    """The interpreter that runs the pyrunc command under test (the binary /proc/self/exe is
    in its init): the launcher's #! line, else the venv's python running these tests."""
    with open(PYRUNC, "rb") as f:
        first = f.readline()
    if not first.startswith(b"#!"):
        return os.path.realpath(sys.executable)
    return os.path.realpath(first[2:].split()[0].decode())


def same_file(a, b):
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def run_in(runtime, make_bundle, script, edit=None, name="bundle", **kw):
    """`pyrunc run` a container that runs `sh -c script`; the CompletedProcess."""
    bundle = make_bundle(["sh", "-c", script], edit=edit, name=name)
    return runtime("run", "--bundle", bundle, new_id("run"), **kw)


def one_line_error(result):
    """The error line of a pyrunc that failed as it should: exit 1, one line, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, \
        result
    return lines[0]


def init_pid(runtime, container_id):
    return runtime.state(container_id)["pid"]


# Each protection below is switched off in a second run to show that its test catches the attack
# it guards against. Both runs are asked to switch it off (PYRUNC_TEST_DISABLE_PROTECTION): the
# attack must fail against the installed `pyrunc`, which has no such switch, and succeed against
# the tests' double (tests/pyrunc_faulty.py), which obeys it.
PROTECTION = pytest.mark.parametrize("protected", [True, False], ids=["protected", "disabled"])


def _attempt(runtime, protected, names):
    """(the runtime to run the attack with, its environment)."""
    env = dict(os.environ, PYRUNC_TEST_DISABLE_PROTECTION=names)
    return (runtime if protected else runtime.faulty()), env


# The attacker's shared mounts (CVE-2025-31133, -52565, -52881 and their racers): a volume the
# other container also has, and a /dev it fills.

@pytest.fixture
def vol(tmp_path):
    """The shared volume: a host directory with a canary file, bound at /run (a directory
    the shared busybox image has, so no mount point is made in it)."""
    path = tmp_path / "vol"
    path.mkdir()
    (path / "canary").write_text("canary\n")
    return path


def vol_mount(vol):
    return {"destination": "/run", "type": "bind", "source": str(vol),
            "options": ["rbind", "rw"]}


def shared_dev(tmp_path, null=True):
    """A host directory to bind as the container's /dev (shared with 'another container'): a
    real null node unless told otherwise, and the ptmx link a terminal needs."""
    dev = tmp_path / "shared-dev"
    dev.mkdir()
    if null:
        os.mknod(dev / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.symlink("pts/ptmx", dev / "ptmx")
    return dev


def bind_dev(config, dev):
    """/dev bound from dev instead of pyrunc's tmpfs."""
    for m in config["mounts"]:
        if m["destination"] == "/dev":
            m.update(type="bind", source=str(dev), options=["rbind", "rw"])


# -- symlinked mount targets (CVE-2021-30465, CVE-2019-16884) -------------------------------------

@pytest.fixture
def evil_setup(tmp_path, rootfs_copy):
    """A host directory with a marker, a rootfs whose /evil leads to it, and a bind source."""
    host_dir = tmp_path / "pyrunc-host-target"
    host_dir.mkdir()
    (host_dir / "marker").write_text("host data\n")
    bind_src = tmp_path / "pyrunc-bind-src"
    bind_src.mkdir()
    (bind_src / "from-bind").write_text("bound\n")
    return host_dir, bind_src, rootfs_copy


def host_dir_untouched(host_dir, before):
    assert sorted(os.listdir(host_dir)) == ["marker"], os.listdir(host_dir)
    assert (host_dir / "marker").read_text() == "host data\n"
    st = os.stat(host_dir)
    assert (st.st_mtime_ns, st.st_nlink) == before, "the host directory was modified"
    assert host_mounts_mentioning(str(host_dir)) == []


@pytest.mark.parametrize("link_kind", ["absolute", "dotdot"])
@pytest.mark.parametrize("kind,destination", [("bind", "/evil/x"), ("tmpfs", "/evil/x"),
                                              ("bind", "/evil"), ("tmpfs", "/evil")])


def test_mount_target_behind_symlink_stays_in_rootfs(runtime, make_bundle, evil_setup, kind,
                                                     destination, link_kind):
    host_dir, bind_src, rootfs = evil_setup
    if link_kind == "absolute":
        os.symlink(str(host_dir), rootfs / "evil")
    else:
        os.symlink("../" * 12 + str(host_dir).lstrip("/"), rootfs / "evil")
    st = os.stat(host_dir)
    before = (st.st_mtime_ns, st.st_nlink)

    if kind == "bind":
        mount = {"destination": destination, "type": "bind", "source": str(bind_src),
                 "options": ["rbind", "rw"]}
    else:
        mount = {"destination": destination, "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "nodev", "mode=755"]}

    def edit(config):
        config["root"]["path"] = str(rootfs)
        config["mounts"].append(mount)

    # Inside: whatever is mounted there is writable (tmpfs or the bind source), so write to it;
    # the host's marker must not be visible through /evil.
    script = (f"echo written > {destination}/from-container && echo WROTE; "
              f"ls -a {destination}; cat /evil/marker 2>/dev/null && echo SAW-HOST-MARKER; "
              "cat /proc/self/mountinfo")
    result = run_in(runtime, make_bundle, script, edit=edit)
    assert result.returncode == 0, result.stderr
    assert "WROTE" in result.stdout, result.stdout + result.stderr
    assert "SAW-HOST-MARKER" not in result.stdout
    if kind == "bind":
        assert "from-bind" in result.stdout  # the bind source is what the container sees there

    # The mount landed inside the rootfs, where the link points when read inside it.
    inside_target = str(host_dir) + destination[len("/evil"):]
    mount_points = [line.split()[4] for line in result.stdout.splitlines()
                    if len(line.split()) > 4 and line.split()[0].isdigit()]
    assert inside_target in mount_points, (inside_target, mount_points)
    assert (rootfs / inside_target.lstrip("/")).is_dir()

    host_dir_untouched(host_dir, before)
    if kind == "bind":
        # The write went to the bind source, the only host directory offered to the container.
        assert (bind_src / "from-container").read_text() == "written\n"
    else:
        assert not (rootfs / inside_target.lstrip("/") / "from-container").exists()


def test_symlinked_mount_target_host_dir_untouched_while_created(runtime, make_bundle,
                                                                  evil_setup):
    """While the container exists, its mounts live in its own namespace and inside its root:
    the host's directory and mount table stay as they were."""
    host_dir, _bind_src, rootfs = evil_setup
    os.symlink(str(host_dir), rootfs / "evil")
    st = os.stat(host_dir)
    before = (st.st_mtime_ns, st.st_nlink)

    def edit(config):
        config["root"]["path"] = str(rootfs)
        config["mounts"].append({"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"})

    bundle = make_bundle(["sleep", "1000"], edit=edit)
    container_id = new_id("created")
    runtime("create", "--bundle", bundle, container_id, check=True)
    pid = runtime.state(container_id)["pid"]
    with open(f"/proc/{pid}/mountinfo") as f:
        container_mounts = f.read()
    assert f" {host_dir}/x " in container_mounts  # inside its root, at the link's target
    host_dir_untouched(host_dir, before)
    runtime("delete", "--force", container_id, check=True)
    host_dir_untouched(host_dir, before)


# -- leaked file descriptors (CVE-2024-21626) -----------------------------------------------------

def _fd_numbers(text):
    return sorted(int(w) for w in text.split() if w.isdigit())


@pytest.fixture
def host_fds():
    """Two fds the test process opens at high numbers, as a careless caller of pyrunc would
    leave them: a host directory (the CVE-2024-21626 escape route) and a file."""
    opened = []
    for path, flags in (("/", os.O_RDONLY | os.O_DIRECTORY), ("/etc/hostname", os.O_RDONLY)):
        fd = os.open(path, flags)
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 40)
        os.close(fd)
        opened.append(high)
    yield opened
    for fd in opened:
        os.close(fd)


def test_no_fd_leaks_into_the_container(runtime, make_bundle, host_fds):
    # $$ is the shell (pid 1): its table, listed by ls, has no directory fd of the listing.
    script = "ls /proc/$$/fd; echo ---; ls /proc/self/fd; true"
    result = run_in(runtime, make_bundle, script, pass_fds=host_fds)
    assert result.returncode == 0, result.stderr
    shell, listing = result.stdout.split("---")
    assert _fd_numbers(shell) == [0, 1, 2], result.stdout
    # ls itself: stdio and the directory it is reading, nothing of the host.
    assert _fd_numbers(listing) == [0, 1, 2, 3], result.stdout


def test_no_fd_leaks_into_exec(runtime, make_bundle, host_fds):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("fdexec")
    runtime("create", "--bundle", bundle, container_id, check=True, pass_fds=host_fds)
    runtime("start", container_id, check=True)
    result = runtime("exec", container_id, "sh", "-c", "ls /proc/$$/fd /proc/1/fd; true",
                     pass_fds=host_fds)
    assert result.returncode == 0, result.stderr
    sections = result.stdout.split("\n\n")
    assert len(sections) == 2, result.stdout
    for section in sections:  # the exec'd shell and the container's init (sleep)
        assert _fd_numbers(section.split(":", 1)[1]) == [0, 1, 2], result.stdout
    runtime("delete", "--force", container_id, check=True)


def test_preserve_fds_passes_exactly_the_preserved_ones(runtime, make_bundle, tmp_path, host_fds):
    payload = tmp_path / "payload"
    payload.write_text("preserved payload\n")
    bundle = make_bundle(["sh", "-c", "cat <&3; ls /proc/$$/fd; true"])
    container_id = new_id("preserve")
    # fd 3 of pyrunc is the payload (a shell puts it there); the high fds are open too.
    argv = ["sh", "-c", 'f=$1; shift; exec "$@" 3<"$f"', "sh", str(payload),
            *runtime.cmd("run", "--preserve-fds", "1", "--bundle", bundle, container_id)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, pass_fds=host_fds)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "preserved payload"
    assert _fd_numbers("\n".join(lines[1:])) == [0, 1, 2, 3], result.stdout

    # Without --preserve-fds, fd 3 is closed in the container.
    argv = ["sh", "-c", 'f=$1; shift; exec "$@" 3<"$f"', "sh", str(payload),
            *runtime.cmd("run", "--bundle", bundle, container_id)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "preserved payload" not in result.stdout
    assert _fd_numbers(result.stdout) == [0, 1, 2], result.stdout


@PROTECTION
def test_cve_2024_21626_no_runtime_fd_reaches_the_container(runtime, make_bundle, tmp_path,
                                                            protected):
    host_dir = tmp_path / "host-secret"
    host_dir.mkdir()
    (host_dir / "secret").write_text("host data")
    bundle = make_bundle(["sh", "-c", "for f in /proc/self/fd/*; do ls $f/ 2>/dev/null; done"])
    rt, env = _attempt(runtime, protected, "fd-cleanup")
    fd = os.open(str(host_dir), os.O_RDONLY)  # inheritable through pass_fds: a "leaked" fd
    try:
        result = rt("run", "-b", bundle, "cve-21626", pass_fds=(fd,), env=env)
    finally:
        os.close(fd)
    attack_worked = "secret" in result.stdout
    assert attack_worked is not protected, (result.stdout, result.stderr)


@pytest.fixture
def leaked_host_dir(tmp_path, busybox_rootfs):
    """A host directory holding a static binary and a secret, open at a high fd number in the
    test process: what a caller that leaks fds hands to pyrunc without --preserve-fds."""
    host_dir = tmp_path / "pyrunc-leaked-dir"
    host_dir.mkdir()
    (host_dir / "secret").write_text("host secret\n")
    busybox = host_dir / "busybox"
    busybox.write_bytes((Path(busybox_rootfs) / "bin" / "busybox").read_bytes())
    busybox.chmod(0o755)
    fd = os.open(host_dir, os.O_RDONLY | os.O_DIRECTORY)
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 40)
    os.close(fd)
    yield host_dir, high
    os.close(high)


HOST_BINARY_SCRIPT = "echo RAN-HOST-BINARY; cat /proc/self/fd/{fd}/secret; true"


def test_leaked_dir_fd_cannot_run_a_host_binary_as_the_init(runtime, make_bundle,
                                                             leaked_host_dir):
    """CVE-2024-21626, attack 3: process.args[0] = /proc/self/fd/N/<binary>, N being a host
    directory that the caller leaked to the runtime. Executing it runs a host file as the
    container's pid 1 (which the container could then rewrite, as in CVE-2019-5736)."""
    host_dir, fd = leaked_host_dir
    before = digest(host_dir / "busybox")
    args = [f"/proc/self/fd/{fd}/busybox", "sh", "-c", HOST_BINARY_SCRIPT.format(fd=fd)]
    bundle = make_bundle(args)
    result = runtime("run", "--bundle", bundle, new_id("leak-init"), pass_fds=(fd,))
    assert "RAN-HOST-BINARY" not in result.stdout, (
        "the container ran a binary of the host through a leaked directory fd:\n"
        + result.stdout + result.stderr)
    assert "host secret" not in result.stdout
    assert result.returncode != 0
    assert digest(host_dir / "busybox") == before


def test_leaked_dir_fd_cannot_run_a_host_binary_by_exec(runtime, make_bundle, leaked_host_dir):
    """The same through `pyrunc exec` (attack 3a: the exec'd process)."""
    host_dir, fd = leaked_host_dir
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("leak-exec")
    runtime("run", "--detach", "--bundle", bundle, container_id, check=True)
    for argv0 in (f"/proc/self/fd/{fd}/busybox",
                  # .. from any leaked directory climbs the host's tree, not the container's
                  f"/proc/self/fd/{fd}/../{host_dir.name}/busybox"):
        result = runtime("exec", container_id, argv0, "sh", "-c",
                         HOST_BINARY_SCRIPT.format(fd=fd), pass_fds=(fd,))
        assert "RAN-HOST-BINARY" not in result.stdout, (
            f"{argv0}: exec ran a binary of the host through a leaked directory fd:\n"
            + result.stdout + result.stderr)
        assert result.returncode != 0
    runtime("delete", "--force", container_id, check=True)


def test_leaked_dir_fd_cannot_be_the_cwd_of_exec(runtime, make_bundle, leaked_host_dir):
    """CVE-2024-21626, attack 2: `exec --cwd /proc/self/fd/N` would start the process in a
    host directory (runc: "leads outside the container's root")."""
    host_dir, fd = leaked_host_dir
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("leak-cwd")
    runtime("run", "--detach", "--bundle", bundle, container_id, check=True)
    result = runtime("exec", "--cwd", f"/proc/self/fd/{fd}", container_id, "sh", "-c",
                     "echo STARTED; cat secret; ls", pass_fds=(fd,))
    assert "STARTED" not in result.stdout and "host secret" not in result.stdout, result.stdout
    assert result.returncode != 0
    assert sorted(os.listdir(host_dir)) == ["busybox", "secret"]
    # The leaked fd is closed before anything runs, so the path does not even exist in the
    # process (or, were it open, enter_cwd would refuse a cwd outside the root).
    assert "/proc/self/fd/" in result.stderr and (
        "No such file" in result.stderr or "outside the container" in result.stderr)
    runtime("delete", "--force", container_id, check=True)


def test_cwd_through_a_leaked_directory_fd_is_refused(runtime, make_bundle, tmp_path):
    """CVE-2024-21626: a cwd of /proc/self/fd/N where N is a host directory would start the
    process outside its root. Here the caller passes a host directory as preserved fd 3."""
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    bundle = make_bundle(["sh", "-c", "pwd; ls"], edit=lambda c: c["process"].update(
        cwd="/proc/self/fd/3"))
    command = " ".join(runtime.cmd("run", "--preserve-fds", "1", "-b", bundle, "cve-cwd"))
    result = subprocess.run(["bash", "-c", f"exec 3<{host_dir}; exec {command}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "process.cwd" in result.stderr and "outside the container" in result.stderr
    assert sorted(os.listdir(host_dir)) == []
    assert runtime.ids() == []


@PROTECTION
def test_cve_2024_21626_cwd_through_a_leaked_fd(runtime, make_bundle, tmp_path, protected):
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    (host_dir / "secret").write_text("host data")
    bundle = make_bundle(["sh", "-c", "cat secret"], edit=lambda c: c["process"].update(
        cwd="/proc/self/fd/3"))
    # --no-pivot: with pivot_root the kernel refuses the detached host directory
    rt, env = _attempt(runtime, protected, "cwd-check,dumpable")
    command = " ".join(rt.cmd("run", "--no-pivot", "--preserve-fds", "1", "-b", bundle,
                              "cve-cwd2"))
    result = subprocess.run(["bash", "-c", f"exec 3<{host_dir}; exec {command}"],
                            capture_output=True, text=True, timeout=60, env=env)
    attack_worked = "host data" in result.stdout
    assert attack_worked is not protected, (result.stdout, result.stderr)


# -- /proc/self/exe, the runtime's binary (CVE-2019-5736) -----------------------------------------

def test_started_init_is_the_containers_binary(runtime, make_bundle, busybox_rootfs):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("exe")
    runtime("create", "--bundle", bundle, container_id, check=True)
    pid = runtime.state(container_id)["pid"]
    python = runtime_python()
    # Waiting for `start`, the init is still pyrunc's interpreter...
    assert same_file(f"/proc/{pid}/exe", python)
    runtime("start", container_id, check=True)
    # ...and once started it is the container's own binary, not the host's python.
    assert wait_until(lambda: same_file(f"/proc/{pid}/exe",
                                        os.path.join(busybox_rootfs, "bin", "sleep")))
    assert not same_file(f"/proc/{pid}/exe", python)
    inside = runtime("exec", container_id, "sh", "-c",
                     "readlink /proc/1/exe; head -c 4 /proc/1/exe | od -c | head -1; "
                     "(exec 3>>/proc/1/exe) 2>&1 || echo WRITE-DENIED")
    assert inside.returncode == 0, inside.stderr
    out = inside.stdout.splitlines()
    assert out[0] == "/bin/sleep", inside.stdout
    assert "python" not in inside.stdout
    assert "E   L   F" in out[1]  # busybox itself, readable as any binary in the image
    # A running binary is never writable (ETXTBSY), not even the container's own.
    assert "WRITE-DENIED" in inside.stdout
    runtime("delete", "--force", container_id, check=True)


def test_waiting_init_exe_cannot_be_written_or_read(runtime, make_bundle):
    """While `created`, /proc/<init>/exe is the host's python: the host cannot open it for
    writing (it is being executed), and the container cannot open it at all."""
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("exe-created")
    runtime("create", "--bundle", bundle, container_id, check=True)
    pid = runtime.state(container_id)["pid"]
    python = runtime_python()
    before = digest(python)
    assert same_file(f"/proc/{pid}/exe", python)
    with pytest.raises(OSError) as err:
        fd = os.open(f"/proc/{pid}/exe", os.O_WRONLY)  # no O_TRUNC: nothing is changed
        os.close(fd)
    assert err.value.errno in (errno.ETXTBSY, errno.EACCES), err.value

    inside = runtime("exec", container_id, "sh", "-c",
                     "(exec 3>>/proc/1/exe) 2>&1 && echo WRITE-OPENED; "
                     "(exec 3</proc/1/exe) 2>&1 && echo READ-OPENED; "
                     "readlink /proc/1/exe && echo LINK-READ; true")
    assert inside.returncode == 0, inside.stderr
    assert "WRITE-OPENED" not in inside.stdout
    assert "READ-OPENED" not in inside.stdout
    assert "LINK-READ" not in inside.stdout
    assert inside.stdout.count("Permission denied") >= 2, inside.stdout
    assert digest(python) == before
    runtime("delete", "--force", container_id, check=True)


@pytest.mark.parametrize("how", ["direct", "shebang", "chain"])
def test_running_the_runtime_binary_inside_is_refused(runtime, make_bundle, rootfs_copy, how):
    """CVE-2019-5736: a container process that is /proc/self/exe (or a script whose
    interpreter is, directly or through another script's #!) would run the host's python
    inside the container."""
    (rootfs_copy / "bin" / "evil").write_text("#!/proc/self/exe\nprint('escaped')\n")
    (rootfs_copy / "bin" / "evil2").write_text("#!/bin/evil\n")
    for name in ("evil", "evil2"):
        os.chmod(rootfs_copy / "bin" / name, 0o755)
    args = {"direct": ["/proc/self/exe", "-c", "print('escaped')"], "shebang": ["/bin/evil"],
            "chain": ["/bin/evil2"]}[how]
    python = runtime_python()
    before = digest(python)

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)

    bundle = make_bundle(args, edit=edit)
    result = runtime("run", "--bundle", bundle, new_id("selfexe"))
    assert result.returncode == 1
    assert "escaped" not in result.stdout
    assert "refusing" in result.stderr, result.stderr  # the #! chain, or the magic-link check
    assert digest(python) == before
    assert runtime.ids() == []


def test_exec_of_the_runtime_binary_is_refused(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("selfexe-exec")
    runtime("create", "--bundle", bundle, container_id, check=True)
    result = runtime("exec", container_id, "/proc/self/exe", "-c", "print('escaped')")
    assert result.returncode != 0
    assert "escaped" not in result.stdout
    assert "refusing" in result.stderr, result.stderr
    runtime("delete", "--force", container_id, check=True)


def _copy_loader_and_libraries(binary, rootfs):
    """Give the image what a dynamically linked host binary needs to start in it."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for path in re.findall(r"(/\S+) \(0x", out):
        dest = rootfs / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


@PROTECTION
def test_cve_2019_5736_runtime_binary_cannot_be_reached(runtime, make_bundle, rootfs_copy,
                                                       protected):
    """The container's program names /proc/self/exe as its interpreter: unprotected, the
    kernel starts pyrunc's own (host) Python as the container's process, which could then
    reopen it for writing once pyrunc's own processes are gone. Here it just reports itself."""
    (rootfs_copy / "evil").write_text("#!/proc/self/exe\nprint('pwned')\n")
    (rootfs_copy / "evil").chmod(0o755)
    _copy_loader_and_libraries(os.path.realpath("/proc/self/exe"), rootfs_copy)
    bundle = make_bundle(["/evil"], edit=lambda c: c["root"].update(path=str(rootfs_copy)))
    # Two protections stand in the way and both are switched off for the demonstration: the
    # check of the #! chain, and the init being non-dumpable until exec.
    rt, env = _attempt(runtime, protected, "exe-check,dumpable")
    result = rt("run", "-b", bundle, "cve-5736", env=env)
    host_python_ran = "Python" in result.stderr or "pwned" in result.stdout
    assert host_python_ran is not protected, (result.stdout, result.stderr)
    if protected:
        assert "refusing to run the runtime's own binary" in result.stderr


# -- the waiting init is out of reach from inside (CVE-2016-9962) ---------------------------------

def test_waiting_init_cannot_be_traced_from_inside(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("ptrace")
    runtime("create", "--bundle", bundle, container_id, check=True)
    pid = runtime.state(container_id)["pid"]

    with open(f"/proc/{pid}/status") as f:
        host_view = status_fields(f.read())
    assert host_view["TracerPid"] == "0"
    assert host_view["NSpid"].split() == [str(pid), "1"]

    # The shell's glob lists /proc without starting anything else: the init and the shell.
    script = ("echo self=$$; for d in /proc/[0-9]*; do echo proc=${d#/proc/}; done; "
              "grep -E '^(CapEff|CapBnd)' /proc/self/status; "
              "for f in /proc/1/mem /proc/1/environ /proc/1/fd/0 /proc/1/fd/1 /proc/1/fd/2 "
              "/proc/1/root/.; do (exec 3<$f) 2>/dev/null && echo OPENED=$f; done; "
              "ls /proc/1/root/ >/dev/null 2>&1 && echo OPENED=root; true")
    inside = runtime("exec", container_id, "sh", "-c", script)
    assert inside.returncode == 0, inside.stderr
    lines = inside.stdout.splitlines()
    me = [line.split("=")[1] for line in lines if line.startswith("self=")][0]
    procs = sorted(line.split("=")[1] for line in lines if line.startswith("proc="))
    assert procs == sorted(["1", me]), inside.stdout  # nothing else in the pid namespace
    assert not [line for line in lines if line.startswith("OPENED=")], inside.stdout
    caps = status_fields(inside.stdout)
    assert not int(caps["CapEff"], 16) & (1 << CAP_BITS["CAP_SYS_PTRACE"])
    assert not int(caps["CapBnd"], 16) & (1 << CAP_BITS["CAP_SYS_PTRACE"])
    runtime("delete", "--force", container_id, check=True)


# -- privileges: capabilities, no_new_privs, seccomp ----------------------------------------------

CAP_CASES = {
    "default": None,
    "narrower": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"],
                 "permitted": ["CAP_KILL"], "inheritable": [], "ambient": []},
    "none": {"bounding": [], "effective": [], "permitted": []},
    # A non-root user keeps, across execve, exactly its ambient set (which must be in the
    # permitted and inheritable sets): the same numbers runc gives.
    "user-ambient": {"bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
                     "effective": ["CAP_NET_BIND_SERVICE"], "permitted": ["CAP_NET_BIND_SERVICE"],
                     "inheritable": ["CAP_NET_BIND_SERVICE"], "ambient": ["CAP_NET_BIND_SERVICE"]},
}


@pytest.mark.parametrize("case", sorted(CAP_CASES))
@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_capabilities_and_no_new_privs_as_configured(runtime, make_bundle, case, nnp):
    caps = CAP_CASES[case]

    def edit(config):
        if caps is not None:
            config["process"]["capabilities"] = caps
        config["process"]["noNewPrivileges"] = nnp
        if case == "user-ambient":
            config["process"]["user"] = {"uid": 1000, "gid": 1000}

    result = run_in(runtime, make_bundle, "cat /proc/self/status", edit=edit)
    assert result.returncode == 0, result.stderr
    fields = status_fields(result.stdout)
    expected = dict(caps or {k: DEFAULT_CAPS for k in ("bounding", "effective", "permitted")})
    if caps is None:
        assert cap_mask(DEFAULT_CAPS) == 0x20000420
    if not nnp and case != "user-ambient":
        # The kernel's rule for an execve by uid 0 (no file capabilities, no SECBIT_NOROOT):
        # the new permitted and effective sets are the bounding set, whatever capset() said
        # before. Only no_new_privs keeps them to the old permitted set. runc shows the same.
        expected["effective"] = expected["permitted"] = expected["bounding"]
    assert int(fields["CapBnd"], 16) == cap_mask(expected["bounding"]), fields["CapBnd"]
    assert int(fields["CapEff"], 16) == cap_mask(expected["effective"]), fields["CapEff"]
    assert int(fields["CapPrm"], 16) == cap_mask(expected["permitted"]), fields["CapPrm"]
    assert int(fields["CapInh"], 16) == cap_mask(expected.get("inheritable", []))
    assert int(fields["CapAmb"], 16) == cap_mask(expected.get("ambient", []))
    assert fields["NoNewPrivs"] == ("1" if nnp else "0")
    if case == "user-ambient":
        assert fields["Uid"].split() == ["1000"] * 4


def test_exec_gets_the_containers_capabilities(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("capexec")
    runtime("run", "--detach", "--bundle", bundle, container_id, check=True)
    result = runtime("exec", container_id, "cat", "/proc/self/status", check=True)
    fields = status_fields(result.stdout)
    for key in ("CapBnd", "CapEff", "CapPrm"):
        assert int(fields[key], 16) == 0x20000420, (key, fields[key])
    assert fields["NoNewPrivs"] == "1"
    # A capability outside the bounding set cannot come back: CAP_SYS_ADMIN tasks fail.
    denied = runtime("exec", container_id, "sh", "-c",
                     "mount -t tmpfs tmpfs /tmp 2>&1 && echo MOUNTED; "
                     "hostname other 2>&1 && echo RENAMED; true")
    assert "MOUNTED" not in denied.stdout and "RENAMED" not in denied.stdout, denied.stdout
    runtime("delete", "--force", container_id, check=True)


def test_capability_the_host_lacks_is_refused(runtime, make_bundle):
    def edit(config):
        config["process"]["capabilities"]["bounding"].append("CAP_SYS_RESOURCE")
    with open("/proc/self/status") as f:
        own = status_fields(f.read())
    if int(own["CapBnd"], 16) & (1 << 24):
        pytest.skip("this host grants CAP_SYS_RESOURCE")  # not the case on the project's VM
    bundle = make_bundle(["true"], edit=edit)
    result = runtime("create", "-b", bundle, "cve-capsysres")
    assert result.returncode == 1
    assert "process.capabilities" in result.stderr and "CAP_SYS_RESOURCE" in result.stderr
    assert runtime.ids() == []


def test_seccomp_profile_is_enforced(runtime, make_bundle):
    def edit(config):
        config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},
                {"names": ["no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO"},
            ],
        }
        config["process"]["args"] = ["sh", "-c",
                                     "mkdir /tmp/x 2>&1; grep Seccomp: /proc/self/status"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "cve-seccomp", check=True).stdout
    assert "Operation not permitted" in out
    assert "Seccomp:\t2" in out


def test_seccomp_without_no_new_privs(runtime, make_bundle):
    """Without noNewPrivileges the filter is loaded while CAP_SYS_ADMIN is still held."""
    def edit(config):
        config["process"]["noNewPrivileges"] = False
        config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
        config["process"]["args"] = ["sh", "-c", "grep -E 'Seccomp:|NoNewPrivs' /proc/self/status"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "cve-seccomp2", check=True).stdout
    assert "Seccomp:\t2" in out and "NoNewPrivs:\t0" in out


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_seccomp_kill_and_trap_actions(runtime, make_bundle, action):
    """A syscall under KILL, KILL_PROCESS or TRAP ends the process that made it with SIGSYS:
    the shell reports 128 + 31 for its mkdir child."""
    def edit(config):
        config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": action}]}
        config["process"]["args"] = ["sh", "-c", "grep Seccomp_filters: /proc/self/status; "
                                     "mkdir /tmp/x; echo status=$?; test -d /tmp/x || echo none"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "cve-kill", check=True).stdout
    assert "Seccomp_filters:\t1" in out
    assert "status=159" in out and "none" in out


def _seccomp_agent(path, answers):
    """A minimal seccomp agent: take the notify fd from the runtime, answer one notification
    with -EACCES, and record what it saw."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        msg, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(4))
        conn.close()
        server.close()
        answers["state"] = json.loads(msg)
        notify_fd = struct.unpack("i", ancdata[0][2][:4])[0]
        notif = bytearray(80)  # struct seccomp_notif, zeroed as the kernel requires
        fcntl.ioctl(notify_fd, 0xC0502100, notif)  # SECCOMP_IOCTL_NOTIF_RECV
        notif_id, pid = struct.unpack_from("QI", notif, 0)
        nr = struct.unpack_from("i", notif, 16)[0]
        answers["notification"] = {"pid": pid, "nr": nr}
        response = struct.pack("QqiI", notif_id, 0, -13, 0)  # error -EACCES
        fcntl.ioctl(notify_fd, 0xC0182101, response)  # SECCOMP_IOCTL_NOTIF_SEND
        os.close(notify_fd)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_seccomp_notify_reaches_the_listener(runtime, make_bundle, tmp_path):
    path = str(tmp_path / "agent.sock")
    answers = {}
    agent = _seccomp_agent(path, answers)

    def edit(config):
        config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
            "listenerMetadata": "agent-metadata",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
        config["process"]["args"] = ["sh", "-c", "mkdir /tmp/x 2>&1; echo done"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "cve-notify", check=True, timeout=30).stdout
    agent.join(timeout=10)
    assert "Permission denied" in out and out.strip().endswith("done")
    state = answers["state"]
    assert state["fds"] == ["seccompFd"] and state["metadata"] == "agent-metadata"
    assert state["state"]["id"] == "cve-notify" and state["pid"] > 1
    assert answers["notification"]["nr"] in (83, 258)  # mkdir, mkdirat on x86_64


def test_seccomp_notify_without_listener_is_refused(runtime, make_bundle):
    bundle = make_bundle(["true"], edit=lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
    result = runtime("create", "-b", bundle, "cve-notify2")
    assert result.returncode == 1 and "linux.seccomp.listenerPath" in result.stderr
    assert runtime.ids() == []


# -- masked paths, read-only paths, read-only root; the masks' /dev/null (CVE-2025-31133) ---------

def test_masked_and_readonly_paths(runtime, make_bundle):
    # Masked files that exist on this kernel read empty (it has no /proc/kcore: it is checked
    # too, where present) and are the container's null device; masked directories are empty.
    script = ("for f in /proc/kcore /proc/keys /proc/timer_list; do "
              "[ -e $f ] && echo size:$f=$(wc -c < $f) || echo absent:$f; done; "
              "echo devices=$(stat -c %t:%T /proc/keys /dev/null); "
              "echo entries:/sys/firmware=$(ls -A /sys/firmware | wc -l); "
              "echo pyrunc > /proc/sys/kernel/hostname 2>/dev/null && echo WROTE-SYSCTL; "
              "echo 1 > /proc/sysrq-trigger 2>/dev/null && echo WROTE-SYSRQ; "
              "echo hostname=$(cat /proc/sys/kernel/hostname); "
              "touch /x 2>/dev/null && echo TOUCHED-ROOT; "
              "touch /tmp/x 2>/dev/null && echo TOUCHED-TMP; "
              "grep ' /proc/sys ' /proc/self/mountinfo; true")
    result = run_in(runtime, make_bundle, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    checked = 0
    for path in ("/proc/kcore", "/proc/keys", "/proc/timer_list"):
        if not os.path.exists(path):
            continue  # this kernel has no such file: nothing to mask
        with open(path, "rb") as f:
            assert f.read(1), f"{path} is empty on the host too: the check would prove nothing"
        assert f"size:{path}=0" in out, out
        checked += 1
    assert checked >= 2
    assert "devices=1:3 1:3" in out, out
    assert os.listdir("/sys/firmware")  # not empty on the host
    assert "entries:/sys/firmware=0" in out, out
    assert "WROTE-SYSCTL" not in out and "WROTE-SYSRQ" not in out, out
    assert "hostname=pyrunc" in out  # the config's hostname, unchanged
    assert "TOUCHED-ROOT" not in out and "TOUCHED-TMP" not in out, out  # root.readonly
    proc_sys = [line.split() for line in out.splitlines() if " /proc/sys " in line]
    assert proc_sys and all("ro" in fields[5].split(",") for fields in proc_sys), proc_sys


def test_masks_and_read_only_paths_hold_under_exec_and_mounting_is_denied(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    runtime("run", "-d", "-b", bundle, "cve-exec-masks", check=True)
    script = ("wc -c < /proc/keys; echo 1 > /proc/sys/kernel/printk 2>/dev/null || echo sys-ro;"
              " touch /sys/x 2>/dev/null || echo sysfs-ro;"
              " mount -t tmpfs none /tmp 2>/dev/null || echo no-mount")
    out = runtime("exec", "cve-exec-masks", "sh", "-c", script, check=True).stdout.split()
    assert out == ["0", "sys-ro", "sysfs-ro", "no-mount"]


def test_writable_root_when_not_readonly(runtime, make_bundle, rootfs_copy):
    """The counterpart: with root.readonly false the same touch works, so the failure above
    is the read-only root and not something else."""

    def edit(config):
        config["root"] = {"path": str(rootfs_copy), "readonly": False}

    result = run_in(runtime, make_bundle, "touch /x && echo TOUCHED-ROOT", edit=edit)
    assert result.returncode == 0, result.stderr
    assert "TOUCHED-ROOT" in result.stdout
    assert (rootfs_copy / "x").exists()


@PROTECTION
def test_cve_2025_31133_masks_with_a_swapped_dev_null(runtime, make_bundle, tmp_path, vol,
                                                      protected):
    """The shared /dev's null is a symlink to a host file (through /run): unprotected, that
    file is bound, writable, over every masked file (/proc/keys...), and what the container
    writes there lands on the host."""
    dev = shared_dev(tmp_path, null=False)
    os.symlink("/run/canary", dev / "null")

    def edit(config):
        bind_dev(config, dev)
        config["mounts"].append(vol_mount(vol))
    bundle = make_bundle(["sh", "-c", "echo PWNED > /proc/keys"], edit=edit)
    rt, env = _attempt(runtime, protected, "masked-null")
    result = rt("run", "-b", bundle, "cve-31133", env=env)
    attack_worked = "PWNED" in (vol / "canary").read_text()
    assert attack_worked is not protected, (result.stdout, result.stderr)
    if protected:
        assert "/dev/null" in one_line_error(result)
    assert runtime.ids() == []


# -- proc and sysfs on a symlink (CVE-2019-19921) -------------------------------------------------

@PROTECTION
def test_cve_2019_19921_proc_symlink(runtime, make_bundle, rootfs_copy, protected):
    """The image's /proc leads to /bad-proc: unprotected, procfs is mounted there and the
    container runs with a /proc that is the image's plain directory, which the masks, the
    read-only mounts and the runtime's own /proc paths then miss. Protected, it is refused by
    name, as runc refuses it ("must be mounted on ordinary directory")."""
    (rootfs_copy / "proc").rmdir()
    (rootfs_copy / "bad-proc").mkdir()
    os.symlink("/bad-proc", rootfs_copy / "proc")
    bundle = make_bundle(["sh", "-c", "echo RAN; "
                          "test -e /bad-proc/self/status && echo PROC-AT-BAD-PROC"],
                         edit=lambda c: c["root"].update(path=str(rootfs_copy)))
    rt, env = _attempt(runtime, protected, "proc-target")
    result = rt("run", "-b", bundle, "cve-19921", env=env)
    attack_worked = "PROC-AT-BAD-PROC" in result.stdout
    assert attack_worked is not protected, (result.stdout, result.stderr)
    if protected:
        err = one_line_error(result)
        assert "'/proc'" in err and "ordinary directory" in err, err
        assert "RAN" not in result.stdout
        assert os.listdir(rootfs_copy / "bad-proc") == []
    assert host_mounts_mentioning(str(rootfs_copy)) == []
    assert runtime.ids() == []


def test_sysfs_on_a_symlink_and_proc_on_a_file_are_refused(runtime, make_bundle, rootfs_copy):
    (rootfs_copy / "sys").rmdir()
    os.symlink("tmp", rootfs_copy / "sys")            # relative, inside the rootfs
    bundle = make_bundle(["true"], edit=lambda c: c["root"].update(path=str(rootfs_copy)))
    err = one_line_error(runtime("run", "-b", bundle, "cve-sysfs"))
    assert "'/sys'" in err and "sysfs must be mounted on an ordinary directory" in err
    os.unlink(rootfs_copy / "sys")
    (rootfs_copy / "sys").mkdir()
    (rootfs_copy / "proc").rmdir()
    (rootfs_copy / "proc").write_text("not a directory\n")
    err = one_line_error(runtime("run", "-b", bundle, "cve-procfile"))
    assert "'/proc'" in err and "not a directory" in err
    assert runtime.ids() == []


# -- /dev/console (CVE-2025-52565) ----------------------------------------------------------------

@pytest.fixture
def console_sink(tmp_path):
    sink = ConsoleSink(tmp_path / "console.sock")
    yield sink
    sink.close()


def console_bundle(make_bundle, dev, vol, name="bundle"):
    def edit(config):
        config["process"]["terminal"] = True
        bind_dev(config, dev)
        config["mounts"].append(vol_mount(vol))
    return make_bundle(["sleep", "100"], edit=edit, name=name)


def console_landed_elsewhere(pid):
    """From the host: the container's /run/canary is a terminal (the bind landed there)."""
    return stat.S_ISCHR(os.stat(f"/proc/{pid}/root/run/canary").st_mode)


@PROTECTION
def test_cve_2025_52565_console_bind_follows_a_symlink(runtime, make_bundle, tmp_path, vol,
                                                       console_sink, protected):
    """The shared /dev's console is a symlink to /run/canary: unprotected, the terminal is
    bound there, over a file of the host's volume, and /dev/console is not the terminal."""
    dev = shared_dev(tmp_path)
    os.symlink("/run/canary", dev / "console")
    bundle = console_bundle(make_bundle, dev, vol)
    rt, env = _attempt(runtime, protected, "console-target")
    rt("create", "--console-socket", console_sink.path, "-b", bundle, "cve-52565", env=env,
       check=True)
    pid = init_pid(runtime, "cve-52565")
    assert console_landed_elsewhere(pid) is not protected
    if protected:
        assert stat.S_ISCHR(os.stat(f"/proc/{pid}/root/dev/console").st_mode)
    runtime("delete", "--force", "cve-52565", check=True)
    assert (vol / "canary").read_text() == "canary\n"


# -- the runtime's /proc writes redirected (CVE-2025-52881) ---------------------------------------

def redirecting_config(vol):
    """oomScoreAdj and a sysctl, and binds (from the shared volume) of host files over the
    very procfs files the runtime writes them to."""
    def edit(config):
        config["process"]["oomScoreAdj"] = 7
        config["linux"]["sysctl"] = {"kernel.domainname": "pyrunc-sysctl"}
        config["mounts"].append(vol_mount(vol))
        for name, destination in (("oom", "/proc/self/oom_score_adj"),
                                  ("domainname", "/proc/sys/kernel/domainname")):
            (vol / name).write_text("canary\n")
            config["mounts"].append({"destination": destination, "type": "bind",
                                     "source": str(vol / name), "options": ["bind", "rw"]})
    return edit


def uts_domainname(pid):
    return subprocess.run(["nsenter", "-t", str(pid), "-u", "cat",
                           "/proc/sys/kernel/domainname"], capture_output=True, text=True,
                          check=True, timeout=10).stdout.strip()


@PROTECTION
def test_cve_2025_52881_proc_writes_redirected_by_mounts(runtime, make_bundle, vol, protected):
    """Unprotected, the runtime writes oom_score_adj and the sysctl through the container's
    /proc, into the host files bound there; protected, they land on the real procfs files."""
    bundle = make_bundle(["sleep", "100"], edit=redirecting_config(vol))
    rt, env = _attempt(runtime, protected, "procfs-writes")
    rt("create", "-b", bundle, "cve-52881", env=env, check=True)
    pid = init_pid(runtime, "cve-52881")
    landed_on_host = {name: (vol / name).read_text().strip() != "canary"
                      for name in ("oom", "domainname")}
    assert landed_on_host == {"oom": not protected, "domainname": not protected}
    if protected:
        with open(f"/proc/{pid}/oom_score_adj") as f:
            assert f.read().strip() == "7"
        assert uts_domainname(pid) == "pyrunc-sysctl"
    runtime("delete", "--force", "cve-52881", check=True)


@PROTECTION
def test_cve_2025_52881_proc_that_is_not_procfs(runtime, make_bundle, rootfs_copy, vol,
                                                protected):
    """No procfs at /proc (the config mounts none), and the image's
    /proc/sys/kernel/domainname is a symlink to a host file (through /run): unprotected, the
    runtime's sysctl write lands there. (The create fails later either way: the read-only
    paths are bound through /proc/self/fd, as runc's are.)"""
    planted = rootfs_copy / "proc" / "sys" / "kernel"
    planted.mkdir(parents=True)
    (planted / "domainname").symlink_to("/run/canary")

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["linux"]["sysctl"] = {"kernel.domainname": "pyrunc-sysctl"}
        config["mounts"] = [m for m in config["mounts"] if m["type"] != "proc"]
        config["mounts"].append(vol_mount(vol))
    bundle = make_bundle(["true"], edit=edit)
    rt, env = _attempt(runtime, protected, "procfs-writes")
    result = rt("create", "-b", bundle, "cve-52881-noproc", env=env)
    landed_on_host = (vol / "canary").read_text() != "canary\n"
    assert landed_on_host is not protected, (result.stdout, result.stderr)
    assert "read-only and masked paths" in one_line_error(result)
    assert runtime.ids() == []


# -- racers (CVE-2025-31133, CVE-2025-52565, CVE-2019-19921 with CVE-2025-52881) ------------------

RACE_CONTAINERS = 200
RACER = r"""
import ctypes, os, sys
mode, path, other = sys.argv[1:4]
if mode == "exchange":      # two names that trade places (a directory and a symlink)
    libc = ctypes.CDLL(None, use_errno=True)
    while True:
        libc.renameat2(-100, path.encode(), -100, other.encode(), 2)  # RENAME_EXCHANGE
good, evil = path + ".good-tmp", path + ".evil-tmp"
while True:                 # path is, by turns, a fresh good file and a symlink to other
    try:
        if mode == "null":
            os.mknod(good, 0o20666, os.makedev(1, 3))
        else:
            os.close(os.open(good, os.O_CREAT | os.O_WRONLY, 0o644))
        os.rename(good, path)
        os.symlink(other, evil)
        os.rename(evil, path)
    except OSError:
        pass
"""


class Racer:
    """A process swapping a path in a tight loop: `exchange` trades path and other places
    (renameat2 RENAME_EXCHANGE); `null` and `file` put, by turns, a fresh null node or empty
    file and a symlink to other at path (atomic renames: the runtime may remove either)."""

    def __init__(self, mode, path, other):
        self.proc = subprocess.Popen([sys.executable, "-c", RACER, mode, str(path), str(other)])

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


def race(runtime, protected, defences, create_args, check, label):
    """Create and delete RACE_CONTAINERS containers while the racer runs, with `defences`
    switched off unless protected (_attempt); check(pid) says whether a write landed outside
    its target. Protected, none may land and some containers must be made; unprotected, the
    racer must win (the run stops at its first landing). Every failed create must be a
    one-line error."""
    rt, env = _attempt(runtime, protected, defences)
    made = landings = failures = 0
    for i in range(RACE_CONTAINERS):
        cid = f"race-{i}"
        result = rt("create", *create_args, cid, env=env, timeout=60)
        if result.returncode == 0:
            made += 1
            landed = check(init_pid(runtime, cid))
            runtime("delete", "--force", cid, check=True)
            if landed:
                landings += 1
                if not protected:
                    break
        else:
            failures += 1
            one_line_error(result)
        assert runtime.ids() == []
    print(f"{label} racer: {made} made, {failures} refused, {landings} landed")
    if protected:
        assert landings == 0 and made > 0
    else:
        assert landings > 0


@pytest.fixture
def racers():
    started = []
    yield lambda *args: started.append(Racer(*args)) or started[-1]
    for racer in started:
        racer.stop()


@PROTECTION
def test_cve_2025_31133_racer(runtime, make_bundle, tmp_path, vol, racers, protected):
    """/dev/null in the shared /dev swapped with a symlink to the host file, all the time."""
    dev = shared_dev(tmp_path)

    def edit(config):
        bind_dev(config, dev)
        config["mounts"].append(vol_mount(vol))
    bundle = make_bundle(["true"], edit=edit)
    canary = os.stat(vol / "canary")

    def landed(pid):
        st = os.stat(f"/proc/{pid}/root/proc/keys")
        return (st.st_dev, st.st_ino) == (canary.st_dev, canary.st_ino)

    racers("null", dev / "null", "/run/canary")
    race(runtime, protected, "masked-null", ("-b", bundle), landed, "31133")
    assert (vol / "canary").read_text() == "canary\n"


@PROTECTION
def test_cve_2025_52565_racer(runtime, make_bundle, tmp_path, vol, racers, console_sink,
                              protected):
    """/dev/console in the shared /dev swapped with a symlink to /run/canary, all the time."""
    dev = shared_dev(tmp_path)
    bundle = console_bundle(make_bundle, dev, vol)
    racers("file", dev / "console", "/run/canary")
    race(runtime, protected, "console-target",
         ("--console-socket", console_sink.path, "-b", bundle), console_landed_elsewhere,
         "52565")
    assert (vol / "canary").read_text() == "canary\n"


@PROTECTION
def test_cve_2019_19921_and_2025_52881_racer(runtime, make_bundle, rootfs_copy, vol, racers,
                                             protected):
    """The image's /proc swapped with a symlink to /bad-proc, all the time, while the runtime
    mounts procfs there and then writes oom_score_adj through /proc. Where procfs lands on
    /bad-proc (unprotected), /proc may then be the image's directory, whose self/oom_score_adj
    the attacker planted as a symlink to a host file (/run/canary): the write goes there."""
    (rootfs_copy / "proc").rmdir()
    (rootfs_copy / "proc").mkdir()
    (rootfs_copy / "bad-proc").mkdir()
    (rootfs_copy / "proc.evil").symlink_to("/bad-proc")
    planted = rootfs_copy / "proc" / "self"
    planted.mkdir()
    (planted / "oom_score_adj").symlink_to("/run/canary")

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["process"]["oomScoreAdj"] = 7
        config["mounts"].append(vol_mount(vol))
    bundle = make_bundle(["true"], edit=edit)

    def landed(pid):
        # pid 0: the init is gone already. Once create returned, it waits for `start` by
        # opening the exec fifo through the container's /proc, which the racer may have
        # turned into the plain directory by then (runc's init dies the same way).
        right = True
        if pid:
            with open(f"/proc/{pid}/oom_score_adj") as f:
                right = f.read().strip() == "7"
        return not right or (vol / "canary").read_text() != "canary\n"

    racers("exchange", rootfs_copy / "proc", rootfs_copy / "proc.evil")
    race(runtime, protected, "proc-target,procfs-writes", ("-b", bundle), landed,
         "19921/52881")
    if protected:
        assert (vol / "canary").read_text() == "canary\n"
    assert host_mounts_mentioning(str(vol)) == []
