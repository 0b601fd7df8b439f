"""runc's CVE classes, tried against pyrunc with real containers:

(a) mount targets behind symlinks that point at host paths (CVE-2021-30465 and kin),
(b) file descriptors leaking into the container (CVE-2024-21626, CVE-2016-9962),
(c) /proc/self/exe: the runtime's binary reachable, runnable or writable from inside
    (CVE-2019-5736),
(d) the waiting init being traced or inspected from inside the container (CVE-2016-9962),
(e) capabilities and no_new_privs as configured,
(f) masked paths, read-only paths and a read-only root.

Host state is checked from the outside (mountinfo, the host files themselves, /proc/<pid>);
the container's view from the output of commands run inside it."""
import errno
import fcntl
import hashlib
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import wait_until

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


def host_mountinfo_mentions(path):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if path in line]


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def runtime_python():
    """The interpreter that runs the pyrunc command (the binary /proc/self/exe is in its init)."""
    with open("/usr/local/bin/pyrunc", "rb") as f:
        first = f.readline()
    if not first.startswith(b"#!"):
        return os.path.realpath("/opt/pyrunc/bin/python")
    return os.path.realpath(first[2:].split()[0].decode())


def same_file(a, b):
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def run_in(runtime, make_bundle, script, edit=None, name="bundle", **kw):
    """`pyrunc run` a container that runs `sh -c script`; the CompletedProcess."""
    bundle = make_bundle(["sh", "-c", script], edit=edit, name=name)
    return runtime("run", "--bundle", bundle, new_id("run"), **kw)


# -- (a) symlinked mount targets ------------------------------------------------------------------

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
    assert host_mountinfo_mentions(str(host_dir)) == []


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


# -- (b) leaked file descriptors ------------------------------------------------------------------

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


# -- (c) /proc/self/exe ---------------------------------------------------------------------------

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


@pytest.mark.parametrize("how", ["direct", "shebang"])
def test_running_the_runtime_binary_inside_is_refused(runtime, make_bundle, rootfs_copy, how):
    """CVE-2019-5736: a container process that is /proc/self/exe (or a script whose
    interpreter is) would run the host's python inside the container."""
    (rootfs_copy / "bin" / "evil").write_text("#!/proc/self/exe\nprint('escaped')\n")
    os.chmod(rootfs_copy / "bin" / "evil", 0o755)
    args = ["/proc/self/exe", "-c", "print('escaped')"] if how == "direct" else ["/bin/evil"]
    python = runtime_python()
    before = digest(python)

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)

    bundle = make_bundle(args, edit=edit)
    result = runtime("run", "--bundle", bundle, new_id("selfexe"))
    assert result.returncode != 0
    assert "escaped" not in result.stdout
    assert "refusing" in result.stderr, result.stderr
    assert digest(python) == before


def test_exec_of_the_runtime_binary_is_refused(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    container_id = new_id("selfexe-exec")
    runtime("create", "--bundle", bundle, container_id, check=True)
    result = runtime("exec", container_id, "/proc/self/exe", "-c", "print('escaped')")
    assert result.returncode != 0
    assert "escaped" not in result.stdout
    assert "refusing" in result.stderr, result.stderr
    runtime("delete", "--force", container_id, check=True)


# -- (d) the waiting init is out of reach from inside ---------------------------------------------

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


# -- (e) capabilities and no_new_privs ------------------------------------------------------------

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


# -- (f) masked paths, read-only paths, read-only root --------------------------------------------

def test_masked_and_readonly_paths(runtime, make_bundle):
    # Masked files that exist on this kernel read empty (it has no /proc/kcore: it is checked
    # too, where present); masked directories are empty.
    script = ("for f in /proc/kcore /proc/keys /proc/timer_list; do "
              "[ -e $f ] && echo size:$f=$(wc -c < $f) || echo absent:$f; done; "
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
    assert os.listdir("/sys/firmware")  # not empty on the host
    assert "entries:/sys/firmware=0" in out, out
    assert "WROTE-SYSCTL" not in out and "WROTE-SYSRQ" not in out, out
    assert "hostname=pyrunc" in out  # the config's hostname, unchanged
    assert "TOUCHED-ROOT" not in out and "TOUCHED-TMP" not in out, out  # root.readonly
    proc_sys = [line.split() for line in out.splitlines() if " /proc/sys " in line]
    assert proc_sys and all("ro" in fields[5].split(",") for fields in proc_sys), proc_sys


def test_proc_symlink_in_the_image_is_refused(runtime, make_bundle, rootfs_copy):
    """CVE-2019-19921 class: an image whose /proc is a symlink (here to /fakeproc) would get
    proc mounted somewhere the masks, the read-only mounts and the runtime's own /proc paths
    then miss. Refused by name, as runc refuses it ("must be mounted on ordinary directory");
    the attack itself, defence on and off: test_cve_classes.py."""
    (rootfs_copy / "proc").rmdir()
    (rootfs_copy / "fakeproc").mkdir()
    os.symlink("/fakeproc", rootfs_copy / "proc")

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)

    result = run_in(runtime, make_bundle, "echo RAN", edit=edit)
    assert result.returncode == 1, result
    assert "RAN" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "'/proc'" in lines[0] and "ordinary directory" in lines[0], lines
    assert os.listdir(rootfs_copy / "fakeproc") == []
    assert host_mountinfo_mentions(str(rootfs_copy)) == []
    assert runtime.ids() == []


def test_writable_root_when_not_readonly(runtime, make_bundle, rootfs_copy):
    """The counterpart: with root.readonly false the same touch works, so the failure above
    is the read-only root and not something else."""

    def edit(config):
        config["root"] = {"path": str(rootfs_copy), "readonly": False}

    result = run_in(runtime, make_bundle, "touch /x && echo TOUCHED-ROOT", edit=edit)
    assert result.returncode == 0, result.stderr
    assert "TOUCHED-ROOT" in result.stdout
    assert (rootfs_copy / "x").exists()
