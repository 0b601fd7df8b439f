"""The lifecycle of real containers, as root: run, create/start/kill/delete, state, list, exec,
terminals, a pod sharing namespaces, and the Python API. Each test looks from outside (/proc,
state files) and from inside (what a command in the container prints)."""
import datetime
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import cgroup_dirs, python, run_on_pty, wait_bounded, wait_until

SLEEP = ("sleep", "1000")
TRAP_TERM = ("sh", "-c", 'trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done')
STATE_FIELDS = {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner",
                "annotations"}


# -- helpers ---------------------------------------------------------------------------------------

def one_line_error(result):
    """The CLI's failure shape: exit 1, one line on stderr, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    err = result.stderr.strip()
    assert err and "\n" not in err, f"not one line: {result.stderr!r}"
    assert "Traceback" not in result.stderr
    return err


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[:-1]


def ns_inode(pid, name):
    return os.stat(f"/proc/{pid}/ns/{name}").st_ino


def status_of(runtime, cid):
    return runtime.state(cid)["status"]


def create_running(runtime, make_bundle, cid, args=SLEEP, edit=None, name=None):
    """create + start a container running args; return its init pid."""
    bundle = make_bundle(args, edit=edit, name=name or f"bundle-{cid}")
    runtime("create", "--bundle", bundle, cid, check=True)
    runtime("start", cid, check=True)
    state = runtime.state(cid)
    assert state["status"] == "running"
    return state["pid"]


def mountinfo_points(text):
    """[(mount point, root within its filesystem)] of a mountinfo text."""
    result = []
    for line in text.splitlines():
        fields = line.split()
        result.append((fields[4], fields[3]))
    return result


def unescape(path):
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n") \
        .replace("\\134", "\\")


def root_within_filesystem(path):
    """Where path lies inside the filesystem mounted over it, as mountinfo's 4th field says."""
    path = os.path.realpath(path)
    best = None
    for point, root in mountinfo_points(open("/proc/self/mountinfo").read()):
        point = unescape(point)
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best[0]):
                best = (point, root)
    point, root = best
    rel = os.path.relpath(path, point)
    return os.path.normpath(os.path.join(unescape(root), rel))


def read_pty(fd, needle, timeout=20):
    """Read a pty master until needle shows up, the other side hangs up, or timeout."""
    import select
    output = b""
    deadline = time.monotonic() + timeout
    while needle not in output:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        output += chunk
    return output


def wait_for_text(path, text, timeout=10):
    def seen():
        try:
            with open(path) as f:
                return text in f.read()
        except FileNotFoundError:
            return False
    assert wait_until(seen, timeout), f"{text!r} never appeared in {path}: " + \
        (open(path).read() if os.path.exists(path) else "(no file)")


# -- run -------------------------------------------------------------------------------------------

def test_run_shows_the_containers_own_view(runtime, make_bundle, busybox_rootfs, tmp_path):
    script = "echo pid=$$; echo host=$(hostname); echo ---; cat /proc/self/mountinfo"

    def edit(config):
        config["hostname"] = "lifecycle-box"

    bundle = make_bundle(("sh", "-c", script), edit=edit)
    # a mount only the host has, made for this test
    host_only_mount = tmp_path / "host-only"
    host_only_mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "lc-host-only",
                    str(host_only_mount)], check=True)
    try:
        host_mountinfo = open("/proc/self/mountinfo").read()
        result = runtime("run", "--bundle", bundle, "lc-view", timeout=30)
    finally:
        subprocess.run(["umount", str(host_only_mount)], check=True)
    assert result.returncode == 0, result.stderr
    head, _, inside_mountinfo = result.stdout.partition("---\n")
    assert head.splitlines() == ["pid=1", "host=lifecycle-box"]

    assert "lc-host-only" in host_mountinfo
    assert "lc-host-only" not in inside_mountinfo
    assert inside_mountinfo and inside_mountinfo != host_mountinfo
    inside = mountinfo_points(inside_mountinfo)
    inside_points = {unescape(p) for p, _root in inside}
    # '/' inside is the bundle's rootfs: the root of that mount is the rootfs directory.
    roots = [root for point, root in inside if point == "/"]
    assert roots == [root_within_filesystem(busybox_rootfs)]
    # The config's mounts are there; the host's other mounts are not.
    config = json.load(open(os.path.join(bundle, "config.json")))
    destinations = [m["destination"] for m in config["mounts"]]
    for d in destinations:
        assert d in inside_points, f"{d} not mounted inside"
    host_only = {unescape(p) for p, _r in mountinfo_points(host_mountinfo)
                 if p != "/" and not any(unescape(p) == d or unescape(p).startswith(d + "/")
                                         for d in destinations)}
    assert str(host_only_mount) in host_only
    assert not host_only & inside_points, host_only & inside_points
    assert not [p for p in inside_points if p.startswith(bundle)]
    # and nothing else: every mount inside is '/', a config mount (or under one: the cgroup
    # hierarchies), or a masked / read-only path; no old root left behind by pivot_root
    linux = config["linux"]
    expected = set(linux["maskedPaths"]) | set(linux["readonlyPaths"])
    unexpected = {p for p in inside_points
                  if p != "/" and p not in expected
                  and not any(p == d or p.startswith(d + "/") for d in destinations)}
    assert not unexpected, unexpected
    assert runtime.ids() == []  # run removes the container when it exits


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_run_exit_code_is_the_containers(runtime, make_bundle, code):
    bundle = make_bundle(("sh", "-c", f"exit {code}"))
    result = runtime("run", "--bundle", bundle, f"lc-exit-{code}", timeout=30)
    assert result.returncode == code, result.stderr
    assert runtime.ids() == []


def test_run_applies_rlimits(runtime, make_bundle):
    def edit(config):
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                                        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}]

    bundle = make_bundle(("sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu"),
                         edit=edit)
    result = runtime("run", "--bundle", bundle, "lc-rlimits", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["512", "1024", "300", "400"]


def test_run_accepts_an_unlimited_rlimit(runtime, make_bundle):
    """config.json says "unlimited" as the uint64 RLIM_INFINITY, 18446744073709551615 (what
    engines write for --ulimit core=-1); runc accepts it. This host's hard RLIMIT_CORE is
    unlimited, so no privilege is needed."""
    import resource
    assert resource.getrlimit(resource.RLIMIT_CORE)[1] == resource.RLIM_INFINITY
    unlimited = 2**64 - 1

    def edit(config):
        config["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": unlimited,
                                         "hard": unlimited}]

    bundle = make_bundle(("sh", "-c", "ulimit -c; ulimit -Hc"), edit=edit)
    result = runtime("run", "--bundle", bundle, "lc-rlimit-inf", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["unlimited", "unlimited"]


def test_run_killed_by_signal_exits_128_plus_n(runtime, make_bundle, tmp_path):
    bundle = make_bundle(SLEEP)
    with open(tmp_path / "out", "w") as out:
        proc = subprocess.Popen(runtime.cmd("run", "--bundle", bundle, "lc-sig"), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: "lc-sig" in runtime.ids() and
                          os.path.exists(f"{runtime.root}/lc-sig/state.json") and
                          status_of(runtime, "lc-sig") == "running")
        os.kill(runtime.state("lc-sig")["pid"], signal.SIGKILL)
        assert wait_bounded(proc, 20) == 128 + signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert runtime.ids() == []


def run_trap_in_background(runtime, make_bundle, tmp_path, container_id):
    """`pyrunc run` of the TERM-trapping shell in the foreground of a child process; returns
    the Popen once the trap is set."""
    bundle = make_bundle(TRAP_TERM, name=f"bundle-{container_id}")
    out_path = tmp_path / f"out-{container_id}"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(runtime.cmd("run", "--bundle", bundle, container_id), stdout=out,
                                stderr=subprocess.STDOUT)
    wait_for_text(out_path, "ready")
    return proc


def test_run_forwards_signals_to_the_container(runtime, make_bundle, tmp_path):
    proc = run_trap_in_background(runtime, make_bundle, tmp_path, "lc-fwd")
    try:
        proc.send_signal(signal.SIGTERM)  # to pyrunc, which passes it on to the trap
        assert wait_bounded(proc, 20) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_builtin_bundle(runtime):
    result = runtime("run", "--builtin", "lc-builtin", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "hello from a pyrunc container"
    assert "pid: 1" in lines
    assert "hostname: pyrunc" in lines


def test_run_detach(runtime, make_bundle):
    bundle = make_bundle(SLEEP)
    started = time.monotonic()
    result = runtime("run", "--detach", "--bundle", bundle, "lc-detach", timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20
    state = runtime.state("lc-detach")
    assert state["status"] == "running"
    assert cmdline(state["pid"]) == [b"sleep", b"1000"]


def test_run_detach_pid_file(runtime, make_bundle, tmp_path):
    bundle = make_bundle(SLEEP)
    pid_file = tmp_path / "run.pid"
    runtime("run", "-d", "--pid-file", str(pid_file), "--bundle", bundle, "lc-detach-pid",
            check=True)
    state = runtime.state("lc-detach-pid")
    assert state["status"] == "running"
    assert pid_file.read_text().strip() == str(state["pid"])


# -- create / start / kill / delete ----------------------------------------------------------------

def test_full_lifecycle(runtime, make_bundle, busybox_rootfs):
    cid = "lc-full"

    def edit(config):
        config["annotations"] = {"org.example.key": "value"}

    bundle = make_bundle(SLEEP, edit=edit)
    runtime("create", "--bundle", bundle, cid, check=True)

    # created: the init exists and waits on the exec fifo, still the runtime's program
    state = runtime.state(cid)
    assert set(state) == STATE_FIELDS
    assert state["status"] == "created"
    assert state["ociVersion"] == "1.0.2"
    assert state["id"] == cid
    assert state["bundle"] == bundle
    assert state["rootfs"] == busybox_rootfs
    assert state["owner"] == "root"
    assert state["annotations"] == {"org.example.key": "value"}
    created = datetime.datetime.fromisoformat(state["created"][:26] + "+00:00")
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 60
    pid = state["pid"]
    assert pid > 0 and os.path.isdir(f"/proc/{pid}")
    argv = cmdline(pid)
    assert argv != [b"sleep", b"1000"]
    assert any(b"pyrunc" in a for a in argv), argv
    assert open(f"/proc/{pid}/wchan").read() == "wait_for_partner"  # blocked opening the fifo
    assert os.path.exists(os.path.join(runtime.root, cid, "exec.fifo"))
    # it is in its cgroup, named after the id, and in new namespaces
    assert any(line.endswith(f":/{cid}") for line in open(f"/proc/{pid}/cgroup").read().split())
    for ns in ("pid", "mnt", "net", "ipc", "uts"):
        assert ns_inode(pid, ns) != ns_inode(os.getpid(), ns), ns

    # running
    runtime("start", cid, check=True)
    state = runtime.state(cid)
    assert state["status"] == "running" and state["pid"] == pid
    assert cmdline(pid) == [b"sleep", b"1000"]
    assert not os.path.exists(os.path.join(runtime.root, cid, "exec.fifo"))
    err = one_line_error(runtime("start", cid))
    assert "running" in err

    # delete refuses a running container and leaves it running
    err = one_line_error(runtime("delete", cid))
    assert cid in err and "running" in err
    assert status_of(runtime, cid) == "running"
    assert cmdline(pid) == [b"sleep", b"1000"]

    # stopped
    runtime("kill", cid, "KILL", check=True)
    assert wait_until(lambda: status_of(runtime, cid) == "stopped")
    state = runtime.state(cid)
    assert state["pid"] == 0
    assert not os.path.exists(f"/proc/{pid}") or cmdline(pid) != [b"sleep", b"1000"]
    one_line_error(runtime("kill", cid, "KILL"))
    one_line_error(runtime("start", cid))

    # deleted: nothing left
    runtime("delete", cid, check=True)
    assert runtime.ids() == []
    assert cgroup_dirs(cid) == []
    err = one_line_error(runtime("state", cid))
    assert "does not exist" in err
    assert "not exist" in one_line_error(runtime("delete", cid))
    assert runtime("delete", "--force", cid).returncode == 0  # as runc: not an error


def test_delete_of_a_created_container(runtime, make_bundle):
    """runtime.md: deleting a container whose process still runs MUST fail and have no effect;
    a created container's init is alive (runc 1.1 kills it; pyrunc needs --force for that)."""
    bundle = make_bundle(SLEEP)
    runtime("create", "--bundle", bundle, "lc-del-created", check=True)
    pid = runtime.state("lc-del-created")["pid"]
    refused = runtime("delete", "lc-del-created")
    assert refused.returncode == 1 and "not stopped: created" in refused.stderr
    assert runtime.state("lc-del-created")["status"] == "created"
    runtime("delete", "--force", "lc-del-created", check=True)
    assert runtime.ids() == []
    assert cgroup_dirs("lc-del-created") == []
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                      open(f"/proc/{pid}/stat").read().split(") ")[1][0] in "ZX")


def test_delete_force_of_a_running_container(runtime, make_bundle):
    pid = create_running(runtime, make_bundle, "lc-del-force")
    runtime("delete", "--force", "lc-del-force", check=True)
    assert runtime.ids() == []
    assert cgroup_dirs("lc-del-force") == []
    assert not os.path.exists(f"/proc/{pid}") or cmdline(pid) != [b"sleep", b"1000"]


def test_create_pid_file(runtime, make_bundle, tmp_path):
    bundle = make_bundle(SLEEP)
    pid_file = tmp_path / "run" / "init.pid"
    pid_file.parent.mkdir()
    runtime("create", "--pid-file", str(pid_file), "--bundle", bundle, "lc-pidfile", check=True)
    state = runtime.state("lc-pidfile")
    assert pid_file.read_text().strip() == str(state["pid"])
    assert os.listdir(pid_file.parent) == ["init.pid"]  # no temporary left from the rename


def test_create_pid_file_relative_to_cwd(runtime, make_bundle, tmp_path):
    bundle = make_bundle(SLEEP)
    runtime("create", "--pid-file", "rel.pid", "--bundle", bundle, "lc-relpid", check=True,
            cwd=str(tmp_path))
    assert (tmp_path / "rel.pid").read_text().strip() == str(runtime.state("lc-relpid")["pid"])


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "9", "kill"])
def test_kill_by_name_or_number(runtime, make_bundle, sig):
    cid = f"lc-kill-{sig.lower()}"
    pid = create_running(runtime, make_bundle, cid)
    runtime("kill", cid, sig, check=True)
    assert wait_until(lambda: status_of(runtime, cid) == "stopped")
    assert not os.path.exists(f"/proc/{pid}") or cmdline(pid) != [b"sleep", b"1000"]


@pytest.mark.parametrize("sig", ["TERM", "SIGTERM", "15"])
def test_kill_term_reaches_a_trap(runtime, make_bundle, tmp_path, sig):
    """A foreground `run` reports the trap's exit status, so TERM was caught, not fatal."""
    cid = f"lc-term-{sig.lower()}"
    proc = run_trap_in_background(runtime, make_bundle, tmp_path, cid)
    try:
        runtime("kill", cid, sig, check=True)
        assert wait_bounded(proc, 20) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_default_signal_is_term(runtime, make_bundle, tmp_path):
    bundle = make_bundle(TRAP_TERM)
    out_path = tmp_path / "out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(runtime.cmd("run", "--bundle", bundle, "lc-defterm"),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_text(out_path, "ready")
        runtime("kill", "lc-defterm", check=True)
        assert wait_bounded(proc, 20) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_term_stops_a_created_container(runtime, make_bundle):
    """As with runc (whose waiting init dies of SIGTERM): TERM to a container that was created
    but not started stops it; engines stop such containers with TERM first."""
    bundle = make_bundle(SLEEP)
    runtime("create", "--bundle", bundle, "lc-term-created", check=True)
    pid = runtime.state("lc-term-created")["pid"]
    runtime("kill", "lc-term-created", "TERM", check=True)
    assert wait_until(lambda: status_of(runtime, "lc-term-created") == "stopped", timeout=5), \
        f"still {status_of(runtime, 'lc-term-created')}: the waiting init ignored SIGTERM"
    assert not os.path.exists(f"/proc/{pid}") or \
        open(f"/proc/{pid}/stat").read().split(") ")[1][0] in "ZX"


def test_kill_bad_signal_is_refused(runtime, make_bundle):
    create_running(runtime, make_bundle, "lc-badsig")
    err = one_line_error(runtime("kill", "lc-badsig", "NOSUCHSIG"))
    assert "NOSUCHSIG" in err
    assert status_of(runtime, "lc-badsig") == "running"


def test_list(runtime, make_bundle):
    runtime("create", "--bundle", make_bundle(SLEEP, name="a"), "lst-a", check=True)
    create_running(runtime, make_bundle, "lst-b", name="b")
    pids = {cid: runtime.state(cid)["pid"] for cid in ("lst-a", "lst-b")}

    table = runtime("list", check=True).stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert set(rows) == {"lst-a", "lst-b"}
    assert rows["lst-a"][1:3] == [str(pids["lst-a"]), "created"]
    assert rows["lst-b"][1:3] == [str(pids["lst-b"]), "running"]
    assert rows["lst-a"][5] == "root"

    listed = json.loads(runtime("list", "--format", "json", check=True).stdout)
    by_id = {c["id"]: c for c in listed}
    assert set(by_id) == {"lst-a", "lst-b"}
    assert by_id["lst-a"]["status"] == "created"
    assert by_id["lst-b"]["status"] == "running"
    assert by_id["lst-b"]["pid"] == pids["lst-b"]
    assert set(by_id["lst-a"]) >= STATE_FIELDS

    assert runtime("list", "-q", check=True).stdout.splitlines() == ["lst-a", "lst-b"]

    runtime("kill", "lst-b", "KILL", check=True)
    assert wait_until(lambda: status_of(runtime, "lst-b") == "stopped")
    listed = json.loads(runtime("list", "-f", "json", check=True).stdout)
    assert {c["id"]: c["status"] for c in listed} == {"lst-a": "created", "lst-b": "stopped"}


def test_list_of_an_empty_root(runtime):
    assert runtime("list", "-q", check=True).stdout == ""
    assert json.loads(runtime("list", "--format", "json", check=True).stdout) == []


# -- exec ------------------------------------------------------------------------------------------

def test_exec_output_and_exit_status(runtime, make_bundle):
    init = create_running(runtime, make_bundle, "lc-exec")
    result = runtime("exec", "lc-exec", "sh", "-c",
                     "echo out; echo err >&2; echo pid=$$; hostname; exit 7")
    assert result.returncode == 7
    lines = result.stdout.splitlines()
    assert lines[0] == "out"
    pid_inside = int(lines[1].split("=")[1])
    assert 1 < pid_inside < 100  # in the container's pid namespace, not the host's
    assert lines[2] == "pyrunc"  # the container's hostname (default spec)
    assert result.stderr.strip() == "err"
    assert runtime("exec", "lc-exec", "true").returncode == 0
    assert status_of(runtime, "lc-exec") == "running"
    assert cmdline(init) == [b"sleep", b"1000"]


def test_exec_killed_by_signal_exits_128_plus_n(runtime, make_bundle):
    create_running(runtime, make_bundle, "lc-exec-sig")
    result = runtime("exec", "lc-exec-sig", "sh", "-c", "kill -KILL $$")
    assert result.returncode == 128 + signal.SIGKILL, result.stderr
    assert status_of(runtime, "lc-exec-sig") == "running"


def test_exec_of_a_missing_program_fails(runtime, make_bundle):
    create_running(runtime, make_bundle, "lc-exec-missing")
    result = runtime("exec", "lc-exec-missing", "/no/such/program")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert status_of(runtime, "lc-exec-missing") == "running"


def test_exec_env_cwd_user(runtime, make_bundle):
    create_running(runtime, make_bundle, "lc-exec-opts")
    result = runtime("exec", "--env", "A=1", "-e", "B=two words", "--cwd", "/tmp",
                     "lc-exec-opts", "sh", "-c", 'echo "$A|$B"; pwd; id -u; id -g', check=True)
    assert result.stdout.splitlines() == ["1|two words", "/tmp", "0", "0"]
    # an --env for a variable the config sets replaces it (once, as runc)
    result = runtime("exec", "-e", "TERM=dumb", "lc-exec-opts", "env", check=True)
    assert [line for line in result.stdout.splitlines() if line.startswith("TERM=")] == \
        ["TERM=dumb"]
    result = runtime("exec", "--user", "65534:65534", "lc-exec-opts", "sh", "-c",
                     "id -u; id -g; pwd", check=True)
    assert result.stdout.splitlines() == ["65534", "65534", "/"]
    result = runtime("exec", "-u", "1000", "lc-exec-opts", "id", "-u", check=True)
    assert result.stdout.strip() == "1000"


def test_exec_user_without_gid_keeps_the_configs_gid(runtime, make_bundle):
    """runc's `exec --user UID` changes only the uid: the gid stays the process's own."""
    def edit(config):
        config["process"]["user"] = {"uid": 0, "gid": 100}

    create_running(runtime, make_bundle, "lc-exec-uid", edit=edit)
    result = runtime("exec", "lc-exec-uid", "id", "-g", check=True)
    assert result.stdout.strip() == "100"
    result = runtime("exec", "--user", "1000", "lc-exec-uid", "sh", "-c", "id -u; id -g",
                     check=True)
    assert result.stdout.splitlines() == ["1000", "100"]


def test_exec_no_new_privs_and_user(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"], edit=lambda c: c["process"].update(
        noNewPrivileges=False))
    runtime("run", "-d", "-b", bundle, "ns-execnnp", check=True)
    plain = runtime("exec", "ns-execnnp", "grep", "NoNewPrivs", "/proc/self/status", check=True)
    assert plain.stdout.split()[-1] == "0"
    nnp = runtime("exec", "--no-new-privs", "--user", "1000:1000", "ns-execnnp", "sh", "-c",
                  "grep NoNewPrivs /proc/self/status; id -u; id -g", check=True)
    assert nnp.stdout.split()[-3:] == ["1", "1000", "1000"]


def test_exec_without_tty_has_no_terminal(runtime, make_bundle):
    create_running(runtime, make_bundle, "lc-exec-notty")
    result = runtime("exec", "lc-exec-notty", "sh", "-c", "test -t 0 || echo no-tty")
    assert result.stdout.strip() == "no-tty"


def test_exec_tty(runtime, make_bundle):
    create_running(runtime, make_bundle, "lc-exec-tty")
    code, output = run_on_pty(runtime.cmd("exec", "-t", "lc-exec-tty", "sh", "-c",
                                          "tty; test -t 0 && echo stdin-is-a-tty; exit 5"))
    assert code == 5, output
    text = output.decode(errors="replace")
    assert "/dev/pts/" in text
    assert "stdin-is-a-tty" in text


def test_exec_detach_pid_file(runtime, make_bundle, tmp_path):
    init = create_running(runtime, make_bundle, "lc-exec-d")
    pid_file = tmp_path / "piddir" / "exec.pid"
    pid_file.parent.mkdir()
    started = time.monotonic()
    result = runtime("exec", "--detach", "--pid-file", str(pid_file), "lc-exec-d",
                     "sleep", "999", timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20
    text = pid_file.read_text()
    assert text.strip().isdigit(), text
    pid = int(text)
    assert os.listdir(pid_file.parent) == ["exec.pid"]  # written by rename: no temporary left
    assert cmdline(pid) == [b"sleep", b"999"]
    assert ns_inode(pid, "pid") == ns_inode(init, "pid")
    assert ns_inode(pid, "mnt") == ns_inode(init, "mnt")
    assert ns_inode(pid, "pid") != ns_inode(os.getpid(), "pid")
    assert status_of(runtime, "lc-exec-d") == "running"
    # delete --force ends the exec'd process with the init (both are in the container's cgroup)
    runtime("delete", "--force", "lc-exec-d", check=True)
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                      open(f"/proc/{pid}/stat").read().split(") ")[1][0] in "ZX")


def test_exec_process_file(runtime, make_bundle, tmp_path):
    create_running(runtime, make_bundle, "lc-exec-p")
    process = {
        "args": ["sh", "-c", 'echo "$FOO"; id -u; id -g; pwd; exit 4'],
        "env": ["PATH=/bin:/usr/bin", "FOO=from-process-file"],
        "cwd": "/dev",
        "user": {"uid": 65534, "gid": 65534},
        "terminal": False,
    }
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    result = runtime("exec", "--process", str(path), "lc-exec-p")
    assert result.returncode == 4, result.stderr
    assert result.stdout.splitlines() == ["from-process-file", "65534", "65534", "/dev"]


def test_exec_in_a_stopped_container_fails(runtime, make_bundle):
    create_running(runtime, make_bundle, "lc-exec-stopped")
    runtime("kill", "lc-exec-stopped", "KILL", check=True)
    assert wait_until(lambda: status_of(runtime, "lc-exec-stopped") == "stopped")
    result = runtime("exec", "lc-exec-stopped", "true")
    assert result.returncode == 255, result.stderr  # runc: 255 when the exec itself fails
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in result.stderr
    assert "stopped" in err


# -- terminals -------------------------------------------------------------------------------------

def test_console_socket_receives_the_pty_master(runtime, make_bundle, tmp_path):
    def edit(config):
        config["process"]["terminal"] = True
        config["process"]["consoleSize"] = {"height": 33, "width": 101}

    bundle = make_bundle(("sh", "-c", "tty; test -t 1 && echo stdout-is-a-tty; stty size; "
                          "echo console-done"), edit=edit)
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    master = None
    try:
        server.bind(sock_path)
        server.listen(1)
        # create connects and sends while the connection waits in the backlog
        runtime("create", "--console-socket", sock_path, "--bundle", bundle, "lc-console",
                check=True)
        server.settimeout(10)
        conn, _ = server.accept()
        with conn:
            msg, ancdata, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(4 * 4))
        fds = [fd for level, kind, data in ancdata
               if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
               for fd in memoryview(data).cast("i")]
        assert len(fds) == 1, ancdata
        master = fds[0]
        assert os.isatty(master)
        assert status_of(runtime, "lc-console") == "created"
        runtime("start", "lc-console", check=True)
        output = read_pty(master, b"console-done").decode(errors="replace")
    finally:
        server.close()
        if master is not None:
            os.close(master)
    lines = [line.strip() for line in output.splitlines()]
    assert any(line.startswith("/dev/pts/") for line in lines), output
    assert "stdout-is-a-tty" in lines
    assert "33 101" in lines
    assert wait_until(lambda: status_of(runtime, "lc-console") == "stopped")


def test_run_with_terminal_in_the_foreground(runtime, make_bundle):
    def edit(config):
        config["process"]["terminal"] = True

    bundle = make_bundle(("sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; exit 6"),
                         edit=edit)
    code, output = run_on_pty(runtime.cmd("run", "--bundle", bundle, "lc-run-tty"))
    assert code == 6, output
    text = output.decode(errors="replace")
    assert "/dev/pts/" in text and "stdin-is-a-tty" in text
    assert runtime.ids() == []


def test_terminal_without_console_socket_is_refused(runtime, make_bundle):
    def edit(config):
        config["process"]["terminal"] = True

    bundle = make_bundle(SLEEP, edit=edit)
    err = one_line_error(runtime("create", "--bundle", bundle, "lc-noconsole"))
    assert "process.terminal" in err
    assert runtime.ids() == []


# -- a pod: containers sharing namespaces ----------------------------------------------------------

def test_pod_shares_net_ipc_uts(runtime, make_bundle, tmp_path):
    def edit_a(config):
        config["hostname"] = "pod-a"

    pid_a = create_running(runtime, make_bundle, "pod-a", edit=edit_a, name="a")

    def edit_b(config):
        config.pop("hostname", None)
        shared = {"network": "net", "ipc": "ipc", "uts": "uts"}
        config["linux"]["namespaces"] = [
            {"type": ns["type"], "path": f"/proc/{pid_a}/ns/{shared[ns['type']]}"}
            if ns["type"] in shared else ns
            for ns in config["linux"]["namespaces"]]

    bundle_b = make_bundle(("sh", "-c", "hostname; exec sleep 1000"), edit=edit_b, name="b")
    out_path = tmp_path / "b.out"
    with open(out_path, "w") as out:
        result = runtime("create", "--bundle", bundle_b, "pod-b", stdout=out)
    assert result.returncode == 0, result.stderr
    runtime("start", "pod-b", check=True)
    wait_for_text(out_path, "\n")
    assert out_path.read_text() == "pod-a\n"
    pid_b = runtime.state("pod-b")["pid"]
    for ns in ("net", "ipc", "uts"):
        assert ns_inode(pid_b, ns) == ns_inode(pid_a, ns), ns
        assert ns_inode(pid_b, ns) != ns_inode(os.getpid(), ns), ns
    for ns in ("pid", "mnt"):
        assert ns_inode(pid_b, ns) != ns_inode(pid_a, ns), ns
    # and from inside B, through exec: the same view
    result = runtime("exec", "pod-b", "hostname", check=True)
    assert result.stdout.strip() == "pod-a"


# -- the Python API --------------------------------------------------------------------------------

API_SCRIPT = r'''
import json, os, sys
import pyrunc

root, bundle, cid, result_path = sys.argv[1:5]
r = {}
c = pyrunc.Container.create(cid, bundle=bundle, root=root)
r["created"] = c.oci_state()["status"]
r["listed_created"] = [(s["id"], s["status"]) for s in pyrunc.list_containers(root)]
c.start()
state = c.oci_state()
r["running"] = state["status"]
r["pid"] = state["pid"]
with open(f"/proc/{state['pid']}/cmdline", "rb") as f:
    r["cmdline"] = f.read().decode()
r["exec_status"] = c.exec({"args": ["sh", "-c", "echo from-api-exec; exit 9"], "cwd": "/",
                           "env": ["PATH=/bin"]})
r["listed_running"] = [(s["id"], s["status"]) for s in pyrunc.list_containers(root)]
try:
    pyrunc.Container.create(cid, bundle=bundle, root=root)
except pyrunc.ContainerExistsError as e:
    r["exists_error"] = str(e)
c.kill("KILL")
r["waited"] = c.wait(10)
r["stopped"] = c.oci_state()["status"]
c.delete(force=True)
r["listed_after"] = pyrunc.list_containers(root)
try:
    pyrunc.Container.load(cid, root=root)
except pyrunc.ContainerNotFoundError as e:
    r["not_found"] = str(e)
with open(result_path, "w") as f:
    json.dump(r, f)
'''


def test_python_api(runtime, make_bundle, tmp_path):
    cid = "lc-api"
    bundle = make_bundle(SLEEP)
    script = tmp_path / "api.py"
    script.write_text(API_SCRIPT)
    result_path = tmp_path / "result.json"
    proc = subprocess.run([python(), str(script), runtime.root, bundle, cid, str(result_path)],
                          capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    r = json.loads(result_path.read_text())
    assert r["created"] == "created"
    assert r["listed_created"] == [[cid, "created"]]
    assert r["running"] == "running"
    assert r["pid"] > 0
    assert r["cmdline"] == "sleep\x001000\x00"
    assert r["exec_status"] == 9
    assert proc.stdout.splitlines() == ["from-api-exec"]
    assert r["listed_running"] == [[cid, "running"]]
    assert "already exists" in r["exists_error"]
    assert r["waited"] is True
    assert r["stopped"] == "stopped"
    assert r["listed_after"] == []
    assert cid in r["not_found"]
    assert not os.path.exists(f"/proc/{r['pid']}") or \
        open(f"/proc/{r['pid']}/cmdline", "rb").read() != b"sleep\x001000\x00"
    assert runtime.ids() == []
    assert cgroup_dirs(cid) == []


API_CHILDREN_SCRIPT = r'''
import json, os, subprocess, sys
import pyrunc

root, bundle, cid, result_path, mode = sys.argv[1:6]
r = {}
c = pyrunc.Container.create(cid, bundle=bundle, root=root)
try:
    c.start()
    if mode == "other-child":
        # a child of the caller's own, unrelated to the container, exits during the exec
        other = subprocess.Popen(["sh", "-c", "exit 5"])
        r["exec_status"] = c.exec({"args": ["sleep", "0.5"], "cwd": "/", "env": ["PATH=/bin"]})
        r["other_status"] = other.wait()
    else:
        # failed execs: their processes must not stay behind as the caller's zombies
        for _ in range(3):
            try:
                c.exec({"args": ["/no/such/program"], "cwd": "/", "env": ["PATH=/bin"]})
            except pyrunc.PyruncError as e:
                r["exec_error"] = str(e)
        zombies = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == os.getpid() and fields[0] == "Z":
                zombies.append(int(entry))
        r["zombie_children"] = zombies
        for pid in zombies:  # recorded; reaped now so that the delete need not wait for them
            os.waitpid(pid, 0)
finally:
    c.delete(force=True)
with open(result_path, "w") as f:
    json.dump(r, f)
'''


def run_api_children_script(runtime, make_bundle, tmp_path, cid, mode):
    bundle = make_bundle(SLEEP)
    script = tmp_path / "api_children.py"
    script.write_text(API_CHILDREN_SCRIPT)
    result_path = tmp_path / "result.json"
    proc = subprocess.run([python(), str(script), runtime.root, bundle, cid, str(result_path),
                           mode], capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert runtime.ids() == []
    assert cgroup_dirs(cid) == []
    return json.loads(result_path.read_text())


def test_python_api_exec_leaves_the_callers_other_children_alone(runtime, make_bundle,
                                                                 tmp_path):
    """An orchestrator using the API has children of its own: a foreground exec must reap
    only its own process."""
    r = run_api_children_script(runtime, make_bundle, tmp_path, "lc-api-other", "other-child")
    assert r["exec_status"] == 0
    assert r["other_status"] == 5, "the exec reaped the caller's own child and lost its status"


def test_python_api_failed_exec_leaves_no_zombies(runtime, make_bundle, tmp_path):
    r = run_api_children_script(runtime, make_bundle, tmp_path, "lc-api-zombies", "zombies")
    assert "/no/such/program" in r["exec_error"]
    assert r["zombie_children"] == [], "failed execs left zombies in the calling process"


def test_python_api_refuses_to_fork_from_a_threaded_process(runtime, tmp_path):
    """The init path forks; a second thread alive at fork time is refused, cleanly."""
    script = f"""
import threading, time, pyrunc
from pyrunc.builtin_rootfs import ensure_bundle
threading.Thread(target=time.sleep, args=(1,)).start()
try:
    pyrunc.Container.create("lc-api-thread", bundle=ensure_bundle(), root={runtime.root!r})
except pyrunc.PyruncError as e:
    print("refused:", e)
"""
    out = subprocess.run([python(), "-c", script], capture_output=True, text=True, timeout=30,
                         cwd=tmp_path)
    assert "refused: pyrunc must fork the container's init from a single-threaded" in out.stdout
    assert runtime.ids() == []
    assert cgroup_dirs("lc-api-thread") == []
