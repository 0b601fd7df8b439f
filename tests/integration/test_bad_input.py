"""Bad input to `create` and `run`: one line on stderr naming what is wrong, exit code 1, no
traceback, and nothing left behind (state entries, mounts, processes)."""
import json
import os
import uuid

import pytest

from conftest import env_with, host_mounts_mentioning
from leftovers import Leftovers

VERBS = ("create", "run")


def fails_cleanly(runtime, marker, verb, bundle, cid, *fields, extra=(), global_args=()):
    """Run `pyrunc <verb> ... cid`; check the one-line error names every one of fields and
    that nothing was left behind. Returns the error line."""
    snap = Leftovers(runtime, cid, markers=marker, mentions=(bundle,))
    result = runtime(verb, *extra, "--bundle", bundle, cid, global_args=global_args,
                     env=env_with(marker), timeout=30)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    err = result.stderr.strip()
    assert err and "\n" not in err, f"expected one line: {result.stderr!r}"
    for field in fields:
        assert field in err, f"{field!r} not named in {err!r}"
    snap.check()
    return err


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def add_marker(marker):
    def edit(config):
        config["process"]["env"].append(marker)
    return edit


# -- the cases -------------------------------------------------------------------------------------

@pytest.mark.parametrize("verb", VERBS)
def test_missing_config_json(runtime, marker, verb, tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    err = fails_cleanly(runtime, marker, verb, str(bundle), unique("bad-noconf"), "config.json")
    assert "not found" in err


@pytest.mark.parametrize("verb", VERBS)
def test_bad_json(runtime, marker, make_bundle, verb):
    bundle = make_bundle(("true",))
    with open(os.path.join(bundle, "config.json"), "a") as f:
        f.write("\n}{ trailing garbage")
    err = fails_cleanly(runtime, marker, verb, bundle, unique("bad-json"), "config.json")
    assert "invalid JSON" in err


@pytest.mark.parametrize("verb", VERBS)
def test_unknown_namespace_type(runtime, marker, make_bundle, verb):
    def edit(config):
        add_marker(marker)(config)
        config["linux"]["namespaces"].append({"type": "bogusns"})

    bundle = make_bundle(("true",), edit=edit)
    err = fails_cleanly(runtime, marker, verb, bundle, unique("bad-ns"), "linux.namespaces",
                        "bogusns")
    assert "linux.namespaces[6].type" in err


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("destination", ["/../../etc", "relative", "/proc/../.."])
def test_mount_destination_escapes(runtime, marker, make_bundle, verb, destination):
    def edit(config):
        add_marker(marker)(config)
        config["mounts"].insert(0, {"destination": destination, "type": "tmpfs",
                                    "source": "tmpfs"})

    bundle = make_bundle(("true",), edit=edit)
    fails_cleanly(runtime, marker, verb, bundle, unique("bad-mnt"), "mounts[0].destination")


@pytest.mark.parametrize("verb", VERBS)
def test_id_already_in_use(runtime, marker, make_bundle, verb):
    cid = unique("bad-dup")
    first = make_bundle(("sleep", "1000"), edit=add_marker(marker), name="first")
    runtime("create", "--bundle", first, cid, check=True, env=env_with(marker))
    before = runtime.state(cid)
    second = make_bundle(("true",), edit=add_marker(marker), name="second")

    snap = Leftovers(runtime, cid, markers=marker, mentions=(second,))
    snap.allowed.add(before["pid"])
    result = runtime(verb, "--bundle", second, cid, env=env_with(marker), timeout=30)
    assert result.returncode == 1, result.stderr
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in result.stderr
    assert "already exists" in err and cid in err
    snap.check()
    # the first container is untouched
    after = runtime.state(cid)
    assert after == before
    assert after["status"] == "created"
    assert sorted(os.listdir(os.path.join(runtime.root, cid))) == ["exec.fifo", "state.json"]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("cid", ["../x", "a/b", "..", "bad id"])
def test_bad_id(runtime, marker, make_bundle, verb, cid):
    bundle = make_bundle(("true",), edit=add_marker(marker))
    outside = os.path.normpath(os.path.join(runtime.root, cid))
    existed = os.path.exists(outside)
    err = fails_cleanly(runtime, marker, verb, bundle, cid, "invalid container id")
    assert repr(cid) in err
    assert os.path.exists(outside) == existed


@pytest.mark.parametrize("verb", VERBS)
def test_rlimit_above_the_hosts_hard_limit(runtime, marker, make_bundle, verb):
    import resource
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= 1048576:
        pytest.fail(f"this test expects a host RLIMIT_NOFILE hard limit below 1048576, not {hard}")

    def edit(config):
        add_marker(marker)(config)
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024,
                                         "hard": 1048576}]

    bundle = make_bundle(("true",), edit=edit)
    err = fails_cleanly(runtime, marker, verb, bundle, unique("bad-rlimit"), "process.rlimits",
                        "RLIMIT_NOFILE")
    assert "process.rlimits[0]" in err


@pytest.mark.parametrize("verb", VERBS)
def test_json_log_gets_the_error_as_its_last_line(runtime, marker, make_bundle, verb, tmp_path):
    def edit(config):
        add_marker(marker)(config)
        config["mounts"].insert(0, {"destination": "relative", "type": "tmpfs",
                                    "source": "tmpfs"})

    bundle = make_bundle(("true",), edit=edit)
    log = tmp_path / "pyrunc.log"
    log.write_text('{"level":"info","msg":"an earlier line","time":"x"}\n')
    err = fails_cleanly(runtime, marker, verb, bundle, unique("bad-log"), "mounts[0].destination",
                        global_args=("--log", str(log), "--log-format", "json"))
    lines = log.read_text().splitlines()
    assert lines[0] == '{"level":"info","msg":"an earlier line","time":"x"}'  # appended to
    last = json.loads(lines[-1])
    assert set(last) == {"level", "msg", "time"}
    assert last["level"] == "error"
    assert "mounts[0].destination" in last["msg"]
    assert last["msg"] in err
    assert last["time"].endswith("Z") and last["time"][:4].isdigit() and "T" in last["time"]
    for line in lines:
        json.loads(line)  # every line is JSON


def test_text_log_gets_the_error_too(runtime, marker, make_bundle, tmp_path):
    def edit(config):
        add_marker(marker)(config)
        config["linux"]["namespaces"].append({"type": "bogusns"})

    bundle = make_bundle(("true",), edit=edit)
    log = tmp_path / "pyrunc.log"
    fails_cleanly(runtime, marker, "create", bundle, unique("bad-textlog"), "linux.namespaces",
                  global_args=("--log", str(log)))
    last = log.read_text().splitlines()[-1]
    assert "level=error" in last and "linux.namespaces" in last


# -- failures after the init was forked: the cleanup path --------------------------------------

@pytest.mark.parametrize("verb", VERBS)
def test_program_not_found(runtime, marker, make_bundle, verb):
    bundle = make_bundle(("/no/such/program", "arg"), edit=add_marker(marker))
    err = fails_cleanly(runtime, marker, verb, bundle, unique("bad-prog"), "/no/such/program")
    assert "executable" in err


@pytest.mark.parametrize("verb", VERBS)
def test_bind_mount_source_missing(runtime, marker, make_bundle, verb, tmp_path):
    missing = str(tmp_path / "no-such-source")

    def edit(config):
        add_marker(marker)(config)
        config["mounts"].append({"destination": "/mnt", "type": "bind", "source": missing,
                                 "options": ["rbind", "ro"]})

    bundle = make_bundle(("true",), edit=edit)
    fails_cleanly(runtime, marker, verb, bundle, unique("bad-bind"), missing)
    assert not host_mounts_mentioning(str(tmp_path))


MOUNT_REFUSALS = {
    # a bind cannot take the filesystem's options: refused by name, never dropped
    "tmpfs-option-on-bind": ({"type": "bind", "source": "/etc", "options": ["rbind", "size=1k"]},
                             'mounts[7].options: "size=1k": a filesystem option'),
    "superblock-flag-on-bind": ({"type": "bind", "source": "/etc", "options": ["bind", "sync"]},
                                'mounts[7].options: "sync"'),
    # runtime-spec: [r]idmap without mappings and without a user namespace is an error
    "idmap-without-mappings": ({"type": "bind", "source": "/etc", "options": ["bind", "idmap"]},
                               'mounts[7].options: "idmap"'),
    "mappings-one-sided": ({"type": "bind", "source": "/etc", "options": ["bind", "idmap"],
                            "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]},
                           "mounts[7].gidMappings"),
}


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("case", sorted(MOUNT_REFUSALS))
def test_mount_option_refused_by_name(runtime, marker, make_bundle, verb, case):
    mount, field = MOUNT_REFUSALS[case]

    def edit(config):
        add_marker(marker)(config)
        config["mounts"].append(dict(mount, destination="/mnt"))

    assert len(default_config_mounts(make_bundle)) == 7  # so the new one is mounts[7]
    bundle = make_bundle(("true",), edit=edit, name=f"bundle-{case}")
    fails_cleanly(runtime, marker, verb, bundle, unique(case), field)


def default_config_mounts(make_bundle):
    import json
    import os
    with open(os.path.join(make_bundle(("true",), name="count"), "config.json")) as f:
        return json.load(f)["mounts"]


@pytest.mark.parametrize("verb", VERBS)
def test_namespace_path_that_is_not_a_namespace(runtime, marker, make_bundle, verb, tmp_path):
    not_a_namespace = tmp_path / "plain-file"
    not_a_namespace.write_text("")

    def edit(config):
        add_marker(marker)(config)
        config["linux"]["namespaces"] = [
            {"type": "network", "path": str(not_a_namespace)} if ns["type"] == "network" else ns
            for ns in config["linux"]["namespaces"]]

    bundle = make_bundle(("true",), edit=edit)
    fails_cleanly(runtime, marker, verb, bundle, unique("bad-nspath"), "network")


@pytest.mark.parametrize("verb", VERBS)
def test_missing_bundle_directory(runtime, marker, verb, tmp_path):
    missing = str(tmp_path / "no-such-bundle")
    err = fails_cleanly(runtime, marker, verb, missing, unique("bad-bundle"), missing)
    assert "bundle" in err


def test_console_socket_that_does_not_exist(runtime, marker, make_bundle, tmp_path):
    def edit(config):
        add_marker(marker)(config)
        config["process"]["terminal"] = True

    bundle = make_bundle(("true",), edit=edit)
    sock = str(tmp_path / "no-such.sock")
    fails_cleanly(runtime, marker, "create", bundle, unique("bad-sock"), "--console-socket",
                  sock, extra=("--console-socket", sock))


@pytest.mark.parametrize("verb", VERBS)
def test_pid_file_in_a_missing_directory(runtime, marker, make_bundle, verb, tmp_path):
    """The pid file is written last, after the init exists: its failure must undo the rest."""
    bundle = make_bundle(("sleep", "1000"), edit=add_marker(marker))
    pid_file = str(tmp_path / "no-such-dir" / "init.pid")
    fails_cleanly(runtime, marker, verb, bundle, unique("bad-pidfile"), "no-such-dir",
                  extra=("--pid-file", pid_file))
