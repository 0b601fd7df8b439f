"""Checkpoint and restore through CRIU (pyrunc checkpoint/restore), on real containers: a busybox
loop that counts into a file on a bind mount is read from outside (the file, /proc/PID/cgroup,
mountinfo) and from inside (exec). CRIU 3.17 cannot run on the host's kernel, so these run in
the cgroup-v2 guest (scripts/vm-v2 runs `-m "cgroup and not podman"`); where `criu check` fails
they are skipped with its reason, and the host test checks that pyrunc refuses at once."""
import json
import os
import socket
import subprocess
import time
import uuid

import pytest

from conftest import PYRUNC, read_until, run_on_pty, wait_until

pytestmark = pytest.mark.cgroup

COUNTER = "i=0; while :; do i=$((i+1)); echo $i > /data/count; sleep 0.1; done"


def _criu_check():
    """None when `criu check` passes here, else its output's error lines."""
    try:
        r = subprocess.run(["criu", "check"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return "criu is not installed"
    if r.returncode == 0:
        return None
    return " / ".join(line for line in (r.stdout + r.stderr).splitlines() if "Error" in line)


CRIU_PROBLEM = _criu_check()
needs_criu = pytest.mark.skipif(CRIU_PROBLEM is not None,
                                reason=f"CRIU cannot run on this kernel: {CRIU_PROBLEM}")


def cid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def counter_bundle(make_bundle, tmp_path, rootfs_copy):
    """make(name=..., edit=...) -> (bundle, data dir): the counting loop, /data bound from a
    host directory, where the test reads the count; the rootfs a private copy (the mount
    point /data is made in it)."""
    def make(name="bundle", edit=None, data=None, args=("sh", "-c", COUNTER)):
        data = data or tmp_path / f"data-{name}"
        data.mkdir(exist_ok=True)

        def edit_all(config):
            config["root"]["path"] = str(rootfs_copy)
            config["mounts"].append({"destination": "/data", "type": "bind",
                                     "source": str(data), "options": ["rbind", "rw"]})
            if edit:
                edit(config)
        return make_bundle(args, edit=edit_all, name=name), data
    return make


def count(data):
    try:
        return int((data / "count").read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def counting(data, above=0, timeout=30):
    """Wait until the count passes above; the count then."""
    assert wait_until(lambda: count(data) > above, timeout=timeout), \
        f"the count stays at {count(data)} (wanted > {above})"
    return count(data)


def frozen_count(data):
    """The count, checked to stand still (the loop does not run)."""
    first = count(data)
    time.sleep(0.6)
    assert count(data) == first, "the container still counts"
    return first


def criu_failure(result):
    """The one-line error of a failed command, with CRIU's log when it names one."""
    text = result.stderr.strip()
    if "(log: " in text:
        path = text.rsplit("(log: ", 1)[1].rstrip(")")
        try:
            with open(path, errors="replace") as f:
                text += "\n--- " + path + "\n" + "".join(f.readlines()[-30:])
        except OSError:
            pass
    return text


def checked(result, what):
    assert result.returncode == 0, f"{what} failed ({result.returncode}): {criu_failure(result)}"
    return result


def pid_of(runtime, container_id):
    state = runtime.state(container_id)
    assert state["status"] == "running", state
    return state["pid"]


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return f.read()


def mount_points(pid):
    with open(f"/proc/{pid}/mountinfo") as f:
        return [line.split()[4] for line in f]


def start_counter(runtime, bundle, name, *extra):
    """run -d, the container's stdout and stderr a plain file: CRIU reopens an external file
    by /proc/self/fd/N with the flags it was opened with, and the O_NOFOLLOW of Python's
    temporary files (Runtime's capture) fails that (ELOOP)."""
    out_path = os.path.join(os.path.dirname(bundle), f"{name}.out")
    with open(out_path, "wb") as out:
        result = runtime("run", "-d", *extra, "--bundle", bundle, name, stdout=out, stderr=out)
    with open(out_path, errors="replace") as f:
        assert result.returncode == 0, f"run -d failed: {f.read()}"
    return pid_of(runtime, name)


# -- the core: checkpoint, kill, restore ----------------------------------------------------------

@needs_criu
def test_checkpoint_then_restore_counts_on_and_is_a_normal_container(runtime, counter_bundle,
                                                                     tmp_path):
    bundle, data = counter_bundle()
    name = cid("ck-core")
    old_pid = start_counter(runtime, bundle, name)
    counting(data, 5)
    images = tmp_path / "images"
    checked(runtime("checkpoint", "--image-path", str(images), name, timeout=300), "checkpoint")
    # The dump ends the container (as runc's does): the loop stops, the id is free again.
    stopped_at = frozen_count(data)
    assert stopped_at > 5
    assert wait_until(lambda: not os.path.exists(f"/proc/{old_pid}"))
    assert name not in runtime.ids()
    assert (images / "inventory.img").exists() and (images / "dump.log").exists()

    checked(runtime("restore", "-d", "--image-path", str(images), "--bundle", bundle, name,
                    timeout=300), "restore")
    pid = pid_of(runtime, name)
    # From where it was: the first counts after the restore follow the one it stopped at.
    after = counting(data, stopped_at)
    assert after < stopped_at + 50, (stopped_at, after)
    counting(data, after)
    # A normal pyrunc container: its cgroup, its mounts, exec, kill, delete.
    assert f"/{name}" in cgroup_of(pid)
    assert "/data" in mount_points(pid)
    seen = checked(runtime("exec", name, "sh", "-c", "cat /data/count; echo pid=$$ ns=$(cat "
                           "/proc/1/cmdline | tr '\\0' ' ')"), "exec").stdout
    lines = seen.split()
    assert int(lines[0]) >= stopped_at, seen
    assert "ns=sh" in seen, seen  # pid 1 of the namespace it joined is the restored loop
    checked(runtime("kill", name, "KILL"), "kill")
    assert wait_until(lambda: runtime.state(name)["status"] == "stopped")
    checked(runtime("delete", name), "delete")
    assert name not in runtime.ids()


@needs_criu
def test_leave_running_keeps_the_container_and_the_images_restore(runtime, counter_bundle,
                                                                  tmp_path):
    bundle, data = counter_bundle()
    name = cid("ck-leave")
    pid = start_counter(runtime, bundle, name)
    counting(data, 3)
    images = tmp_path / "images"
    checked(runtime("checkpoint", "--leave-running", "--image-path", str(images), name,
                    timeout=300), "checkpoint --leave-running")
    snapshot = count(data)
    assert pid_of(runtime, name) == pid  # the same init, still counting
    later = counting(data, snapshot + 30)
    checked(runtime("delete", "--force", name), "delete --force")
    checked(runtime("restore", "-d", "--image-path", str(images), "--bundle", bundle, name,
                    timeout=300), "restore")
    # The restored loop goes on from the checkpoint, not from where the first one was killed.
    (data / "count").write_text("0\n")
    first = counting(data, 0)
    assert first <= snapshot + 10 < later, (snapshot, first, later)
    checked(runtime("delete", "--force", name), "delete --force")


@needs_criu
def test_pre_dump_then_dump_with_parent(runtime, counter_bundle, tmp_path):
    bundle, data = counter_bundle()
    name = cid("ck-pre")
    pid = start_counter(runtime, bundle, name)
    counting(data, 3)
    parent = tmp_path / "pre"
    images = tmp_path / "final"
    checked(runtime("checkpoint", "--pre-dump", "--image-path", str(parent), name,
                    timeout=300), "checkpoint --pre-dump")
    assert pid_of(runtime, name) == pid  # a pre-dump leaves the container running
    assert any(n.startswith("pages-") for n in os.listdir(parent)), os.listdir(parent)
    counting(data, count(data) + 3)
    checked(runtime("checkpoint", "--parent-path", "../pre", "--image-path", str(images), name,
                    timeout=300), "checkpoint --parent-path")
    assert os.readlink(images / "parent") == "../pre"  # CRIU took the pre-dump's pages
    stopped_at = frozen_count(data)
    checked(runtime("restore", "-d", "--image-path", str(images), "--bundle", bundle, name,
                    timeout=300), "restore")
    after = counting(data, stopped_at)
    assert after < stopped_at + 50
    checked(runtime("delete", "--force", name), "delete --force")


@needs_criu
def test_bind_mount_whose_destination_is_a_symlink(runtime, counter_bundle, rootfs_copy,
                                                   tmp_path):
    # (counter_bundle's rootfs is this same copy)
    # /data in the image is a symlink to /srv/real: the mount lands on /srv/real, which is
    # what CRIU sees and what restore must name.
    (rootfs_copy / "srv" / "real").mkdir(parents=True)
    (rootfs_copy / "data").symlink_to("/srv/real")
    bundle, data = counter_bundle()
    name = cid("ck-link")
    pid = start_counter(runtime, bundle, name)
    assert "/srv/real" in mount_points(pid)
    counting(data, 3)
    images = tmp_path / "images"
    checked(runtime("checkpoint", "--image-path", str(images), name, timeout=300),
            "checkpoint")
    stopped_at = frozen_count(data)
    checked(runtime("restore", "-d", "--image-path", str(images), "--bundle", bundle, name,
                    timeout=300), "restore")
    pid = pid_of(runtime, name)
    assert "/srv/real" in mount_points(pid)
    counting(data, stopped_at)
    checked(runtime("delete", "--force", name), "delete --force")


@needs_criu
def test_restore_into_another_cgroup_with_manage_cgroups_ignore(runtime, counter_bundle,
                                                                tmp_path):
    from conftest import cgroup_dirs
    first, second = cid("pyrunc-ck-a"), cid("pyrunc-ck-b")
    bundle_a, data = counter_bundle("a", edit=lambda c: c["linux"].update(
        cgroupsPath="/" + first))
    bundle_b, _ = counter_bundle("b", data=data, edit=lambda c: c["linux"].update(
        cgroupsPath="/" + second))
    name = cid("ck-cg")
    pid = start_counter(runtime, bundle_a, name)
    assert f"/{first}" in cgroup_of(pid)
    counting(data, 3)
    images = tmp_path / "images"
    checked(runtime("checkpoint", "--manage-cgroups-mode", "ignore", "--image-path",
                    str(images), name, timeout=300), "checkpoint")
    assert cgroup_dirs(first) == []  # the checkpointed container was deleted, cgroup and all
    stopped_at = frozen_count(data)
    checked(runtime("restore", "-d", "--manage-cgroups-mode", "ignore", "--image-path",
                    str(images), "--bundle", bundle_b, name, timeout=300), "restore")
    pid = pid_of(runtime, name)
    assert f"/{second}" in cgroup_of(pid) and first not in cgroup_of(pid)
    assert str(pid) in open(os.path.join(cgroup_dirs(second)[0], "cgroup.procs")).read()
    counting(data, stopped_at)
    checked(runtime("delete", "--force", name), "delete --force")
    assert cgroup_dirs(first) == [] and cgroup_dirs(second) == []


@needs_criu
def test_a_paused_container_and_a_restore_in_the_foreground(runtime, counter_bundle, tmp_path):
    # Paused: CRIU takes the frozen cgroup as it is. Restored without --detach: pyrunc waits
    # for the container as `run` does, returns its status and deletes it.
    bundle, data = counter_bundle()
    name = cid("ck-fg")
    start_counter(runtime, bundle, name)
    counting(data, 3)
    checked(runtime("pause", name), "pause")
    assert runtime.state(name)["status"] == "paused"
    images = tmp_path / "images"
    checked(runtime("checkpoint", "--image-path", str(images), name, timeout=300), "checkpoint")
    stopped_at = frozen_count(data)
    pid_file = tmp_path / "restored.pid"
    out = open(tmp_path / "restore.out", "wb")
    restore = subprocess.Popen(runtime.cmd("restore", "--pid-file", str(pid_file),
                                           "--image-path", str(images), "--bundle", bundle,
                                           name), stdin=subprocess.DEVNULL, stdout=out,
                               stderr=out)
    out.close()
    try:
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(),
                          timeout=120), (tmp_path / "restore.out").read_text()
        pid = int(pid_file.read_text())
        assert runtime.state(name)["pid"] == pid
        counting(data, stopped_at)
        with open(f"/proc/{pid}/status") as f:  # the restored init is pyrunc's child
            assert f"PPid:\t{restore.pid}\n" in f.read()
        checked(runtime("kill", name, "KILL"), "kill")
        assert restore.wait(timeout=60) == 137, (tmp_path / "restore.out").read_text()
    finally:
        if restore.poll() is None:
            restore.kill()
            restore.wait()
    assert name not in runtime.ids()


@needs_criu
def test_a_joined_network_namespace_is_joined_again(runtime, counter_bundle, tmp_path):
    netns = f"pyrck-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        path = f"/run/netns/{netns}"
        inode = os.stat(path).st_ino

        def edit(config):
            for ns in config["linux"]["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = path
        bundle, data = counter_bundle(edit=edit)
        name = cid("ck-netns")
        pid = start_counter(runtime, bundle, name)
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == inode
        counting(data, 3)
        images = tmp_path / "images"
        checked(runtime("checkpoint", "--image-path", str(images), name, timeout=300),
                "checkpoint")
        stopped_at = frozen_count(data)
        checked(runtime("restore", "-d", "--image-path", str(images), "--bundle", bundle,
                        name, timeout=300), "restore")
        pid = pid_of(runtime, name)
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == inode
        counting(data, stopped_at)
        checked(runtime("delete", "--force", name), "delete --force")
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def receive_master(server):
    server.settimeout(30)
    conn, _ = server.accept()
    with conn:
        _msg, ancdata, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(4 * 4))
    fds = [fd for level, kind, payload in ancdata
           if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
           for fd in memoryview(payload).cast("i")]
    assert len(fds) == 1, ancdata
    return fds[0]


@needs_criu
def test_a_container_with_a_terminal(runtime, counter_bundle, tmp_path):
    # The loop also prints each count on its terminal, which the console socket's listener
    # reads: before the checkpoint on the first pty, after the restore on a new one.
    script = "i=0; while :; do i=$((i+1)); echo $i > /data/count; echo tick-$i; sleep 0.1; done"

    def edit(config):
        config["process"]["terminal"] = True
    bundle, data = counter_bundle(edit=edit, args=("sh", "-c", script))
    name = cid("ck-tty")
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    masters = []
    try:
        server.bind(sock_path)
        server.listen(1)
        start_counter(runtime, bundle, name, "--console-socket", sock_path)
        masters.append(receive_master(server))
        assert b"tick-3" in read_until(masters[0], b"tick-3", timeout=30)
        pid = pid_of(runtime, name)
        assert os.readlink(f"/proc/{pid}/fd/0").startswith("/dev/pts/")
        images = tmp_path / "images"
        checked(runtime("checkpoint", "--image-path", str(images), name, timeout=300),
                "checkpoint")
        stopped_at = frozen_count(data)
        checked(runtime("restore", "-d", "--console-socket", sock_path, "--image-path",
                        str(images), "--bundle", bundle, name, timeout=300), "restore")
        masters.append(receive_master(server))
        pid = pid_of(runtime, name)
        assert os.readlink(f"/proc/{pid}/fd/1").startswith("/dev/pts/")
        wanted = f"tick-{stopped_at + 3}".encode()
        assert wanted in read_until(masters[1], wanted, timeout=30)
    finally:
        server.close()
        for fd in masters:
            os.close(fd)
    checked(runtime("delete", "--force", name), "delete --force")


@needs_criu
def test_a_terminal_container_restored_in_the_foreground_is_relayed(runtime, counter_bundle,
                                                                   tmp_path):
    # Without --console-socket and --detach, restore relays the new pty to its own terminal,
    # as `run` does, and ends with the container.
    script = ("i=0; while :; do i=$((i+1)); echo $i > /data/count; echo tick-$i; "
              "[ $i -ge 60 ] && exit 3; sleep 0.1; done")

    def edit(config):
        config["process"]["terminal"] = True
    bundle, data = counter_bundle(edit=edit, args=("sh", "-c", script))
    name = cid("ck-ttyfg")
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(sock_path)
        server.listen(1)
        start_counter(runtime, bundle, name, "--console-socket", sock_path)
        master = receive_master(server)
        try:
            read_until(master, b"tick-3", timeout=30)
            checked(runtime("checkpoint", "--image-path", str(tmp_path / "images"), name,
                            timeout=300), "checkpoint")
        finally:
            os.close(master)
    finally:
        server.close()
    stopped_at = frozen_count(data)
    assert stopped_at < 60
    code, output = run_on_pty(runtime.cmd("restore", "--image-path", str(tmp_path / "images"),
                                          "--bundle", bundle, name), timeout=300)
    text = output.decode(errors="replace")
    assert code == 3, text
    assert f"tick-{stopped_at + 1}" in text and "tick-60" in text, text
    assert name not in runtime.ids()


# -- failures -------------------------------------------------------------------------------------

@needs_criu
def test_a_checkpoint_criu_refuses_leaves_the_container_running(runtime, counter_bundle,
                                                                tmp_path):
    # fd 3, passed with --preserve-fds, is a file outside the container: CRIU refuses it.
    bundle, data = counter_bundle()
    name = cid("ck-refused")
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    cmd = " ".join(runtime.cmd("run", "-d", "--preserve-fds", "1", "--bundle", bundle, name))
    subprocess.run(["sh", "-c", f"exec 3<{outside}; exec {cmd} </dev/null >/dev/null 2>&1"],
                   check=True, timeout=60)
    runtime.used_ids.add(name)
    pid = pid_of(runtime, name)
    before = counting(data, 3)
    images = tmp_path / "images"
    result = runtime("checkpoint", "--image-path", str(images), name, timeout=300)
    assert result.returncode == 1
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "criu dump failed:" in err and f"(log: {images}/dump.log)" in err, err
    assert "fd=3" in err or "outside.txt" in err, err  # CRIU's own reason
    assert "Error" in (images / "dump.log").read_text()
    # Running and unchanged: the same init, counting on.
    assert pid_of(runtime, name) == pid
    counting(data, before + 3)
    checked(runtime("delete", "--force", name), "delete --force")


@needs_criu
def test_a_failed_restore_leaves_nothing_behind(runtime, counter_bundle, tmp_path):
    from conftest import cgroup_dirs
    bundle, _ = counter_bundle()
    name = cid("ck-badrestore")
    runtime.used_ids.add(name)
    images = tmp_path / "not-a-checkpoint"
    images.mkdir()
    result = runtime("restore", "-d", "--image-path", str(images), "--bundle", bundle, name,
                     timeout=300)
    assert result.returncode == 1
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "criu restore failed:" in err and f"(log: {images}/restore.log)" in err, err
    assert (images / "restore.log").exists()
    assert runtime.ids() == []
    assert cgroup_dirs(name) == []
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if str(images) in line or "/data" in line.split()[4]]


def test_checkpoint_is_refused_at_once_where_criu_cannot_run(runtime, make_bundle, tmp_path):
    if CRIU_PROBLEM is None:
        pytest.skip("CRIU runs on this kernel (the refusal is for hosts where it cannot)")
    bundle = make_bundle(("sleep", "60"))
    name = cid("ck-host")
    pid = start_counter(runtime, bundle, name)
    images = tmp_path / "images"
    started = time.monotonic()
    result = runtime("checkpoint", "--image-path", str(images), name)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("pyrunc: CRIU cannot run on this host: criu check: "), err
    # CRIU's own reason: the first error line of `criu check`, without its source position.
    reason = CRIU_PROBLEM.split(" / ")[0].split("): ", 1)[1]
    assert err.endswith(reason), (err, CRIU_PROBLEM)
    assert pid_of(runtime, name) == pid and not images.exists()
    features = json.loads(subprocess.run([PYRUNC, "features"], capture_output=True, text=True,
                                         check=True).stdout)
    said = features["annotations"]["org.opencontainers.runtime-spec.features.pyrunc.checkpoint"]
    assert said == f"unavailable: criu check: {reason}", said
    checked(runtime("delete", "--force", name), "delete --force")


# -- through containerd ---------------------------------------------------------------------------

@needs_criu
@pytest.mark.engine
def test_ctr_task_checkpoint_and_container_restore(busybox_rootfs, tmp_path):
    """containerd's runc shim runs `pyrunc checkpoint --image-path --work-path
    [--leave-running]` for `ctr tasks checkpoint` and for `ctr containers checkpoint --task`
    (the checkpoint image that `ctr containers restore` needs), and `pyrunc restore --detach
    --pid-file --bundle ...` with its own pipes as stdio for `ctr containers restore --live`."""
    from engineutil import Containerd, ok, running
    image = "localhost/pyrunc-busybox:latest"
    data = tmp_path / "data"
    data.mkdir()
    with running(Containerd()) as ctrd:
        ctrd.import_rootfs(busybox_rootfs, image, ["/bin/sh"])
        name = f"t{uuid.uuid4().hex[:10]}"
        state_root = os.path.join(ctrd.pyrunc_root, ctrd.namespace)
        checkpoint_ref = None
        try:
            ok(ctrd.ctr("run", "-d", "--mount", f"type=bind,src={data},dst=/data,"
                        "options=rbind:rw", *ctrd.run_args(), image, name, "sh", "-c",
                        COUNTER))
            counting(data, 3)
            images = tmp_path / "task-images"
            ok(ctrd.ctr("tasks", "checkpoint", "--image-path", str(images), name, timeout=300))
            assert (images / "inventory.img").exists()  # written by CRIU, through pyrunc
            assert ok(ctrd.ctr("tasks", "ls")).stdout.split("\n")[1].split()[2] == "RUNNING"
            checkpoint_ref = f"localhost/pyrunc-checkpoint-{name}:1"
            ok(ctrd.ctr("containers", "checkpoint", "--task", "--image", name, checkpoint_ref,
                        timeout=300))
            ok(ctrd.ctr("tasks", "kill", "-s", "KILL", name))
            assert wait_until(lambda: "STOPPED" in ctrd.ctr("tasks", "ls").stdout, timeout=30)
            stopped_at = frozen_count(data)
            ok(ctrd.ctr("tasks", "delete", name))
            ok(ctrd.ctr("containers", "rm", name))
            (data / "count").write_text("0\n")
            ok(ctrd.ctr("containers", "restore", "--live", name, checkpoint_ref, timeout=300))
            # From the checkpoint: the count starts again near where it was taken.
            after = counting(data, 0)
            assert after <= stopped_at, (after, stopped_at)
            counting(data, after)
            state = json.loads(subprocess.run([PYRUNC, "--root", state_root, "state", name],
                                              capture_output=True, text=True, check=True).stdout)
            assert state["status"] == "running", state
            assert ok(ctrd.ctr("tasks", "ls")).stdout.split("\n")[1].split()[2] == "RUNNING"
            result = ok(ctrd.ctr("tasks", "exec", "--exec-id", "e1", name, "cat",
                                 "/data/count"))
            assert int(result.stdout.strip()) >= after
        finally:
            ctrd.ctr("tasks", "kill", "-a", "-s", "KILL", name)
            wait_until(lambda: "RUNNING" not in ctrd.ctr("tasks", "ls").stdout, timeout=30)
            ctrd.ctr("tasks", "delete", "-f", name)
            ctrd.ctr("containers", "rm", name)
            if checkpoint_ref:
                ctrd.ctr("images", "rm", checkpoint_ref)
