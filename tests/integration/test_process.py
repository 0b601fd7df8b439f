"""The container's process as config.json describes it, on real containers, from outside
(/proc/<pid>/status, limits, oom_score_adj, the scheduler) and from inside (the container's own
output): env, cwd, user and groups, umask, rlimits, oomScoreAdj, the executable lookup, I/O
priority, scheduler and personality, preserved and socket-activation fds."""
import os
import subprocess
import tempfile
import uuid

from featutil import cid, marked_env, run_detached, script, status_field
from leftovers import assert_nothing_left


# -- the process -----------------------------------------------------------------------------------

def test_env_is_exactly_the_config_plus_home(runtime, make_bundle):
    env = ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "EQUALS=a=b"]

    def edit(config):
        config["process"]["env"] = env
        config["process"]["args"] = ["env"]
    out = runtime("run", "-b", make_bundle(edit=edit), cid("env"), check=True).stdout
    assert sorted(out.splitlines()) == sorted(env + ["HOME=/root"])


def test_defaults_umask_and_no_new_privileges(runtime, make_bundle):
    def edit(config):
        assert config["process"]["noNewPrivileges"] is True
        script(config, "umask; grep NoNewPrivs /proc/self/status")
    out = runtime("run", "-b", make_bundle(edit=edit), cid("defaults"), check=True).stdout
    assert out.split() == ["0022", "NoNewPrivs:", "1"]

    def privs_allowed(config):
        config["process"]["noNewPrivileges"] = False
        script(config, "grep NoNewPrivs /proc/self/status")
    out = runtime("run", "-b", make_bundle(edit=privs_allowed, name="nnp0"), cid("nnp0"),
                  check=True).stdout
    assert out.split() == ["NoNewPrivs:", "0"]


def test_cwd_is_created_when_missing(runtime, make_bundle, rootfs_copy):
    def edit(config):
        config["root"]["path"] = str(rootfs_copy)  # stays read-only: made before the remount
        config["process"]["cwd"] = "/made/for/cwd"
        script(config, "pwd; touch /x 2>/dev/null || echo root-ro")
    out = runtime("run", "-b", make_bundle(edit=edit), cid("cwd"), check=True).stdout
    assert out.split() == ["/made/for/cwd", "root-ro"]
    assert (rootfs_copy / "made/for/cwd").is_dir()


def test_user_groups_umask_rlimits_oom(runtime, make_bundle, tmp_path):
    def edit(config):
        p = config["process"]
        p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 1001], "umask": 0o077}
        p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512}]
        p["oomScoreAdj"] = 500
        config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["mode=1777"]})
        script(config, "id -u; id -g; id -G; umask; touch /tmp/f; stat -c %a /tmp/f; "
                       "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; echo $HOME; "
                       "echo READY; exec sleep 1000")
    pid, out = run_detached(runtime, make_bundle(edit=edit), cid("user"), tmp_path)
    lines = out.splitlines()
    assert lines[0:2] == ["1000", "1000"]
    assert sorted(lines[2].split()) == ["1000", "1001", "5"]
    assert lines[3:5] == ["0077", "600"]
    assert lines[5:8] == ["256", "512", "500"]
    assert lines[8] == "/"  # uid 1000 has no /etc/passwd entry in the image
    assert status_field(pid, "Uid") == ["1000"] * 4
    assert status_field(pid, "Gid") == ["1000"] * 4
    assert sorted(status_field(pid, "Groups")) == ["1001", "5"]
    assert open(f"/proc/{pid}/oom_score_adj").read().strip() == "500"
    limits = [line for line in open(f"/proc/{pid}/limits") if line.startswith("Max open files")]
    assert limits[0].split()[3:5] == ["256", "512"]


def _host_allows_lower_oom_score():
    probe = subprocess.run(["sh", "-c", "echo -500 > /proc/self/oom_score_adj"],
                           capture_output=True)
    return probe.returncode == 0


def test_negative_oom_score_adj(runtime, make_bundle):
    container, marker = cid("oomneg"), uuid.uuid4().hex

    def edit(config):
        config["process"]["oomScoreAdj"] = -500
        config["process"]["args"] = ["cat", "/proc/self/oom_score_adj"]
    result = runtime("run", "-b", make_bundle(edit=edit), container, env=marked_env(marker))
    if _host_allows_lower_oom_score():
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "-500"
    else:  # no CAP_SYS_RESOURCE here: the kernel refuses to go below our own 0
        assert result.returncode == 1
        assert "oomScoreAdj" in result.stderr
        assert "Traceback" not in result.stderr
    assert_nothing_left(runtime, container, markers=marker)


def test_args_resolved_on_the_containers_path(runtime, make_bundle):
    for name, args in (("bare", ["sh", "-c", "echo bare"]),
                       ("abs", ["/bin/sh", "-c", "echo abs"])):
        bundle = make_bundle(args, name=name)
        assert runtime("run", "-b", bundle, cid(name), check=True).stdout == f"{name}\n"
    # The host has /usr/bin/sh; the image has none: the lookup must use the image.
    container = cid("usrbin")
    bundle = make_bundle(["sh", "-c", "true"], name="usrbin",
                         edit=lambda c: c["process"].update(env=["PATH=/usr/bin"]))
    result = runtime("create", "-b", bundle, container)
    assert result.returncode == 1
    assert "executable file not found" in result.stderr
    assert_nothing_left(runtime, container)


def test_missing_executable_fails_at_create(runtime, make_bundle):
    container, marker = cid("noexe"), uuid.uuid4().hex
    bundle = make_bundle(["no-such-program-ft"])
    result = runtime("create", "-b", bundle, container, env=marked_env(marker))
    assert result.returncode == 1
    assert "executable file not found" in result.stderr
    assert "no-such-program-ft" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert_nothing_left(runtime, container, markers=marker)


# -- file descriptors ------------------------------------------------------------------------------

def _run_with_fd3(runtime, args, env=None, prefix="", then=()):
    """Run `pyrunc args` with a pipe's write end as its fd 3, then `pyrunc then` if given;
    return (result, what came through the pipe once every holder of its write end is gone).
    Output goes through files: a created container holds its stdio as long as it lives."""
    r, w = os.pipe()
    try:
        shell = f'{prefix}exec "$@" 3>&{w} {w}>&-'
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            result = subprocess.run(["bash", "-c", shell, "bash", *runtime.cmd(*args)],
                                    pass_fds=[w], stdout=out, stderr=err, timeout=60, env=env)
            os.close(w)
            w = None
            if then and result.returncode == 0:
                runtime(*then, check=True)
            with os.fdopen(r, "rb") as f:
                r = None
                data = f.read().decode()
            out.seek(0)
            err.seek(0)
            result.stdout, result.stderr = out.read().decode(), err.read().decode()
    finally:
        for fd in (r, w):
            if fd is not None:
                os.close(fd)
    return result, data


FD_PROBE = ("for n in 3 4 5 6 7 8 9; do [ -e /proc/self/fd/$n ] && echo open-$n; done; "
            "echo via-fd3 > /proc/self/fd/3 2>/dev/null; env | grep ^LISTEN_ | sort; true")


def test_preserve_fds_passes_fd3(runtime, make_bundle):
    bundle = make_bundle(["sh", "-c", FD_PROBE])
    result, data = _run_with_fd3(runtime, ["run", "--preserve-fds", "1", "-b", bundle,
                                           cid("fds")])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["open-3"]
    assert data == "via-fd3\n"
    # Without --preserve-fds the same fd 3 stays outside.
    result, data = _run_with_fd3(runtime, ["run", "-b", bundle, cid("nofds")])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
    assert data == ""
    # create keeps the fd in the waiting init; start's process gets it.
    container = cid("fdstart")
    result, data = _run_with_fd3(runtime, ["create", "--preserve-fds", "1", "-b", bundle,
                                           container], then=("start", container))
    assert result.returncode == 0, result.stderr
    assert data == "via-fd3\n"
    runtime("delete", "--force", container, check=True)


def test_listen_fds_socket_activation(runtime, make_bundle):
    bundle = make_bundle(["sh", "-c", FD_PROBE])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    env["LISTEN_FDS"] = "1"
    # As systemd does: LISTEN_PID is pyrunc's own pid (the shell's, which execs pyrunc).
    result, data = _run_with_fd3(runtime, ["run", "-b", bundle, cid("listen")], env=env,
                                 prefix="export LISTEN_PID=$$; ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["open-3", "LISTEN_FDS=1", "LISTEN_PID=1"]
    assert data == "via-fd3\n"


def test_listen_fds_meant_for_another_process_are_ignored(runtime, make_bundle):
    """sd_listen_fds(3): LISTEN_FDS counts only when LISTEN_PID is the reader's own pid (a
    variable inherited from an ancestor names that ancestor); runc checks it (go-systemd's
    activation.Files). Then neither the variables nor fd 3 reach the container."""
    bundle = make_bundle(["sh", "-c", FD_PROBE])
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    result, data = _run_with_fd3(runtime, ["run", "-b", bundle, cid("listenother")], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
    assert data == ""


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
