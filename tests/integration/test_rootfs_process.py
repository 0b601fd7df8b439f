"""Mounts, devices, hooks and the process's own settings, seen from inside the container."""
import json
import os
import subprocess

from conftest import host_mounts_mentioning, read_until, run_bounded, run_on_pty


def test_mounts_and_devices(runtime, make_bundle, tmp_path, rootfs_copy):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "file").write_text("from-host\n")
    (tmp_path / "bundle-relative").mkdir()

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)  # new mount points go into a private copy
        config["mounts"] += [
            {"destination": "/data", "type": "bind", "source": str(shared),
             "options": ["rbind", "ro"]},
            {"destination": "/rw", "type": "none", "source": str(shared), "options": ["bind"]},
            {"destination": "/etc/one-file", "type": "bind", "source": str(shared / "file"),
             "options": ["bind", "ro"]},
            {"destination": "/rel", "type": "bind", "source": "../bundle-relative",
             "options": ["bind"]},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "noexec", "size=1m", "mode=700"]},
        ]
        config["linux"]["devices"] = [{"path": "/dev/mynull", "type": "c", "major": 1,
                                       "minor": 3, "fileMode": 0o666, "uid": 0, "gid": 0}]
        config["process"]["args"] = ["sh", "-c", ";".join([
            "cat /data/file", "touch /data/x 2>/dev/null || echo data-ro",
            "echo written > /rw/new", "cat /etc/one-file", "ls -d /rel",
            "stat -c %a /scratch", "grep ' /scratch ' /proc/self/mountinfo",
            "stat -c %t:%T /dev/null /dev/zero /dev/mynull", "echo x > /dev/mynull && echo dev-ok",
            "readlink /dev/ptmx", "readlink /dev/fd", "readlink /dev/stdin"])]
    bundle = make_bundle(edit=edit)
    lines = runtime("run", "-b", bundle, "rf-mounts", check=True).stdout.splitlines()
    assert lines[0] == "from-host" and lines[1] == "data-ro"
    assert (shared / "new").read_text() == "written\n"
    assert lines[2] == "from-host" and lines[3] == "/rel"
    assert lines[4] == "700"
    assert "nosuid" in lines[5] and "noexec" in lines[5] and "size=1024k" in lines[5]
    assert lines[6:9] == ["1:3", "1:5", "1:3"]
    assert lines[9] == "dev-ok"
    assert lines[10:13] == ["pts/ptmx", "/proc/self/fd", "/proc/self/fd/0"]


def test_process_settings(runtime, make_bundle, rootfs_copy):
    def edit(config):
        config["root"]["path"] = str(rootfs_copy)  # the cwd is created in a private copy
        p = config["process"]
        p["env"] = ["PATH=/bin", "FOO=bar"]
        p["cwd"] = "/work/here"
        p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 7], "umask": 0o027}
        p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512}]
        p["oomScoreAdj"] = 500
        p["args"] = ["sh", "-c", "env | sort; pwd; id -u; id -G; umask; ulimit -n; "
                                 "cat /proc/self/oom_score_adj"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "rf-proc", check=True).stdout.split()
    assert "FOO=bar" in out and "HOME=/" in out and "PATH=/bin" in out
    tail = out[out.index("/work/here"):]
    assert tail == ["/work/here", "1000", "1000", "5", "7", "0027", "512", "500"]


def test_missing_executable_fails_at_create(runtime, make_bundle):
    bundle = make_bundle(["no-such-program"])
    result = runtime("create", "-b", bundle, "rf-missing")
    assert result.returncode == 1
    assert "executable file not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert runtime.ids() == []


def test_oom_score_below_the_callers_is_refused_cleanly(runtime, make_bundle):
    own = int(open("/proc/self/oom_score_adj").read())
    bundle = make_bundle(["true"], edit=lambda c: c["process"].update(oomScoreAdj=own - 100))
    result = runtime("run", "-b", bundle, "rf-oom")
    if result.returncode == 0:
        return  # this host grants CAP_SYS_RESOURCE; nothing to refuse
    assert "oomScoreAdj" in result.stderr
    assert runtime.ids() == []


def test_hooks_run_in_order_with_the_state(runtime, make_bundle, tmp_path):
    log = tmp_path / "hooks.log"
    script = tmp_path / "hook.py"
    script.write_text("import json, sys\n"
                      "state = json.load(sys.stdin)\n"
                      f"open({str(log)!r}, 'a').write(sys.argv[1] + ' ' + state['status'] + "
                      "' ' + state['id'] + '\\n')\n")

    def hook(kind):
        return [{"path": "/opt/pyrunc/bin/python", "args": ["python", str(script), kind]}]

    def edit(config):
        config["hooks"] = {k: hook(k) for k in ("prestart", "createRuntime", "poststart",
                                                "poststop")}
    bundle = make_bundle(["true"], edit=edit)
    runtime("run", "-b", bundle, "rf-hooks", check=True)
    lines = log.read_text().splitlines()
    assert [l.split()[0] for l in lines] == ["prestart", "createRuntime", "poststart", "poststop"]
    assert all(l.endswith(" rf-hooks") for l in lines)
    assert lines[-1].split()[1] == "stopped"


def test_failing_hook_fails_create_and_leaves_nothing(runtime, make_bundle):
    bundle = make_bundle(["true"], edit=lambda c: c.update(
        hooks={"createRuntime": [{"path": "/bin/false"}]}))
    result = runtime("create", "-b", bundle, "rf-badhook")
    assert result.returncode == 1 and "hooks.createRuntime[0]" in result.stderr
    assert runtime.ids() == []


def test_run_relays_a_terminal(runtime, make_bundle):
    bundle = make_bundle(["sh", "-c", "tty; test -t 0 && echo isatty"],
                         edit=lambda c: c["process"].update(terminal=True))
    code, output = run_on_pty(runtime.cmd("run", "-b", bundle, "rf-tty"))
    assert code == 0
    assert b"/dev/pts/0" in output and b"isatty" in output


def test_console_socket_receives_the_pty_master(runtime, make_bundle, tmp_path):
    import array
    import socket
    path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    bundle = make_bundle(["sh", "-c", "echo via-console; tty"],
                         edit=lambda c: c["process"].update(terminal=True))
    runtime("create", "--console-socket", path, "-b", bundle, "rf-console", check=True)
    conn, _ = server.accept()
    fds = array.array("i")
    _msg, ancdata, _flags, _addr = conn.recvmsg(1024, socket.CMSG_SPACE(4))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:4])
    conn.close()
    server.close()
    master = fds[0]
    runtime("start", "rf-console", check=True)
    output = read_until(master, b"/dev/pts/")
    os.close(master)
    assert b"via-console" in output and b"/dev/pts/0" in output
    assert json.loads(runtime("state", "rf-console", check=True).stdout)["id"] == "rf-console"


def test_tmpcopyup_keeps_the_images_files(runtime, make_bundle):
    def edit(config):
        config["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["tmpcopyup", "mode=755"]})
        config["process"]["args"] = ["sh", "-c", "grep -c root /etc/passwd; "
                                     "grep ' /etc ' /proc/self/mountinfo | grep -c tmpfs; "
                                     "echo new > /etc/added && cat /etc/added"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "rf-copyup", check=True).stdout.split()
    assert out == ["1", "1", "new"]


def test_spec_writes_a_config_that_runs(runtime, tmp_path, busybox_rootfs):
    bundle = tmp_path / "spec-bundle"
    bundle.mkdir()
    run_bounded(runtime.cmd("spec", "--bundle", str(bundle)), check=True)
    config = json.loads((bundle / "config.json").read_text())
    assert config["ociVersion"] and config["process"]["args"] == ["sh"]
    again = runtime("spec", "--bundle", str(bundle))
    assert again.returncode == 1 and "exists" in again.stderr
    config["root"]["path"] = busybox_rootfs
    config["process"]["terminal"] = False
    config["process"]["args"] = ["echo", "spec-ok"]
    (bundle / "config.json").write_text(json.dumps(config))
    assert runtime("run", "-b", str(bundle), "rf-spec", check=True).stdout == "spec-ok\n"
    rootless = tmp_path / "rootless"
    rootless.mkdir()
    run_bounded(runtime.cmd("spec", "--rootless", "--bundle", str(rootless)), check=True)
    types = [n["type"] for n in json.loads((rootless / "config.json").read_text())
             ["linux"]["namespaces"]]
    assert "user" in types and "network" not in types


def test_listen_fds_are_passed_on(runtime, make_bundle):
    r, w = os.pipe()
    bundle = make_bundle(["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; echo via-listen-fd >&3"])
    command = " ".join(runtime.cmd("run", "-b", bundle, "rf-listen"))
    try:
        # LISTEN_PID=$$: bash execs pyrunc in place, so the fds are meant for pyrunc
        shell = f"exec 3>&{w}; LISTEN_PID=$$ LISTEN_FDS=1 exec {command}"
        result = subprocess.run(["bash", "-c", shell],
                                pass_fds=(w,), capture_output=True, text=True, timeout=60)
        os.close(w)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["1", "1"]
        assert os.read(r, 100) == b"via-listen-fd\n"
    finally:
        os.close(r)


def test_version_and_help(runtime):
    out = run_bounded([runtime.cmd()[0], "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "pyrunc version" in out.stdout and "spec: 1.0.2" in out.stdout
    help_text = run_bounded([runtime.cmd()[0], "create", "--help"], capture_output=True,
                               text=True).stdout
    for flag in ("--bundle", "--console-socket", "--pid-file", "--no-pivot", "--no-new-keyring",
                 "--preserve-fds"):
        assert flag in help_text
    bad = run_bounded([runtime.cmd()[0], "create", "--bogus", "x"], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "--bogus" in bad.stderr


def test_io_priority_scheduler_and_personality(runtime, make_bundle):
    import ctypes
    def edit(config):
        config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
        config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
        config["linux"]["personality"] = {"domain": "LINUX32"}
        config["process"]["args"] = ["sleep", "1000"]
    bundle = make_bundle(edit=edit)
    runtime("run", "-d", "-b", bundle, "rf-sched", check=True)
    pid = runtime.state("rf-sched")["pid"]
    assert os.sched_getscheduler(pid) == os.SCHED_BATCH
    assert os.getpriority(os.PRIO_PROCESS, pid) == 7
    libc = ctypes.CDLL(None, use_errno=True)
    ioprio_get, who_process = 252, 1  # x86_64 syscall number; IOPRIO_WHO_PROCESS
    assert libc.syscall(ioprio_get, who_process, pid) >> 13 == 3  # IOPRIO_CLASS_IDLE
    assert int(open(f"/proc/{pid}/personality").read(), 16) == 0x0008  # PER_LINUX32
    # exec'd processes get the same process settings from the container's config
    assert runtime("exec", "rf-sched", "uname", "-m", check=True).stdout.strip() in (
        "i686", "i386")


def test_bad_scheduling_values_are_named(runtime, make_bundle):
    for edit, field in (
            (lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BOGUS"}),
             "process.ioPriority.class"),
            (lambda c: c["process"].update(scheduler={"policy": "SCHED_OTHER", "nice": 40}),
             "process.scheduler.nice"),
            (lambda c: c["linux"].update(personality={"domain": "LINUX64"}),
             "linux.personality.domain")):
        bundle = make_bundle(["true"], edit=edit, name=field)
        result = runtime("create", "-b", bundle, "rf-badsched")
        assert result.returncode == 1 and field in result.stderr
        assert runtime.ids() == []


def test_rootfs_propagation_and_mount_propagation_options(runtime, make_bundle, tmp_path):
    shared = tmp_path / "shared-src"
    shared.mkdir()
    for propagation in ("private", "rprivate", "slave", "rslave", "shared", "rshared",
                        "unbindable", "runbindable"):
        def edit(config):
            config["linux"]["rootfsPropagation"] = propagation
            config["mounts"].append({"destination": "/tmp", "type": "bind",
                                     "source": str(shared), "options": ["rbind", "rprivate"]})
            config["process"]["args"] = ["sh", "-c", "grep -E ' / | /tmp ' /proc/self/mountinfo"]
        bundle = make_bundle(edit=edit, name=f"prop-{propagation}")
        out = runtime("run", "-b", bundle, "rf-prop", check=True).stdout
        root_line = next(l for l in out.splitlines() if l.split()[4] == "/")
        tmp_line = next(l for l in out.splitlines() if l.split()[4] == "/tmp")
        fields = root_line.split(" - ")[0]
        if propagation.endswith("shared"):
            assert "shared:" in fields
        elif propagation.endswith("slave"):
            assert "shared:" not in fields  # master: only where the host's mount was shared
        elif propagation.endswith("unbindable"):
            assert "unbindable" in fields
        else:
            assert "shared:" not in fields and "master:" not in fields
        if not propagation.endswith("shared"):
            assert "shared:" not in tmp_line.split(" - ")[0]  # the mount's own rprivate
        # whatever the propagation, nothing of the container's stays mounted on the host
        assert not host_mounts_mentioning(str(shared)) and not host_mounts_mentioning(
            "/bundles/busybox/rootfs")
