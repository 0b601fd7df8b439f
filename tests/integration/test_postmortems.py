"""Post-mortems of failed creates, starts and execs (pyrunc/postmortem.py), as the installed
pyrunc keeps them: a failure injected by the tests' double at every checkpoint of the parent
(PYRUNC_TEST_FAIL_AT, tests/pyrunc_faulty.py), and configs that fail at known steps of the
init path. Each time: the one-line error names where to look, `pyrunc explain ID` shows the
step, errno and field, the id is free again, `list` shows nothing, nothing is left behind."""
import json
import os

import pytest

from leftovers import assert_nothing_left
from pyrunc_faulty import PARENT_STEPS


def one_line(result, code=1):
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    err = result.stderr.strip()
    assert err and "\n" not in err and "Traceback" not in err, result.stderr
    return err


def postmortems(runtime, container_id):
    result = runtime("explain", "--format", "json", container_id, check=True)
    return json.loads(result.stdout)["postmortems"]


def assert_gone(runtime, container_id, bundle):
    """The suite's leftover check (tests/leftovers.py), and `list` and `delete` see no
    container: the id is free."""
    assert_nothing_left(runtime, container_id, mentions=(bundle,))
    assert json.loads(runtime("list", "--format", "json", check=True).stdout) == []
    assert runtime("delete", container_id).returncode == 1  # no such container


@pytest.mark.parametrize("step", PARENT_STEPS)
def test_a_failure_at_each_checkpoint_leaves_a_postmortem(runtime, make_bundle, step):
    cid = f"pm-{step}"
    bundle = make_bundle(("true",))
    result = runtime.faulty()("create", "--bundle", bundle, cid,
                              env=dict(os.environ, PYRUNC_TEST_FAIL_AT=step))
    err = one_line(result)
    assert f"injected failure at checkpoint {step!r}" in err
    assert err.endswith(f"(post-mortem: pyrunc --root {runtime.root} explain {cid})")
    assert_gone(runtime, cid, bundle)
    [pm] = postmortems(runtime, cid)
    assert pm["verb"] == "create" and pm["id"] == cid
    assert pm["checkpoints"][-1] == step
    assert pm["checkpoints"] == list(PARENT_STEPS[:PARENT_STEPS.index(step) + 1])
    text = runtime("explain", cid, check=True).stdout
    assert f"the parent had reached: {', '.join(pm['checkpoints'])}" in text


@pytest.mark.parametrize("step", ["state-dir", "init-pid", "cgroup-joined"])
def test_a_killed_create_is_found_by_delete(runtime, make_bundle, step):
    """The double SIGKILLs itself there (PYRUNC_TEST_KILL_AT): no error is ever printed, and
    the delete --force an engine then runs keeps the post-mortem."""
    cid = f"pm-killed-{step}"
    bundle = make_bundle(("true",))
    result = runtime.faulty()("create", "--bundle", bundle, cid,
                              env=dict(os.environ, PYRUNC_TEST_KILL_AT=step))
    assert result.returncode == -9
    runtime("delete", "--force", cid, check=True)
    assert_gone(runtime, cid, bundle)
    [pm] = postmortems(runtime, cid)
    assert pm["step"] == "create did not finish" and "died or was killed" in pm["message"]
    assert ("init forked" in pm["checkpoints"][-1]) == (step != "state-dir")


def test_the_id_is_free_for_the_next_create(runtime, make_bundle):
    bundle = make_bundle(("sleep", "100"))
    faulty = runtime.faulty()
    env = dict(os.environ, PYRUNC_TEST_FAIL_AT="ready")
    one_line(faulty("create", "--bundle", bundle, "pm-again", env=env))
    runtime("create", "--bundle", bundle, "pm-again", check=True)
    assert runtime.ids() == ["pm-again"]
    explained = json.loads(runtime("explain", "--format", "json", "pm-again", check=True).stdout)
    assert explained["container"]["status"] == "created"
    assert len(explained["postmortems"]) == 1  # the earlier failure, beside the container
    runtime("delete", "--force", "pm-again", check=True)


def _sysctl(config):
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "bogus"}


def _fs_type(config):
    # /tmp: a mount point the shared rootfs has (a new one would be made in it)
    config["mounts"].append({"destination": "/tmp", "type": "nosuchfs", "source": "x"})


def _hook(config):
    config["hooks"] = {"createContainer": [{"path": "/bin/false"}]}


def _cpus(config):
    config["linux"]["resources"] = {"cpu": {"cpus": "97"}}


def _namespace(config):
    config["linux"]["namespaces"].append({"type": "bogus"})


# (the config's mistake, args, the step, the errno, the field)
KNOWN_STEPS = [
    ("missing program", None, ("/no/such/program",), "executable", 2, "process.args"),
    ("bad sysctl", _sysctl, ("true",), "sysctl net.ipv4.ip_forward", 22,
     "linux.sysctl.net.ipv4.ip_forward"),
    ("unknown fs", _fs_type, ("true",), "mounting the rootfs", 19, "mounts"),
    ("failing hook", _hook, ("true",), "createContainer hooks", 0, "hooks.createContainer"),
    ("cpuset refused", _cpus, ("true",), "cgroups", 0, "linux.resources.cpu.cpus"),
    ("unknown namespace", _namespace, ("true",), "validating the config", 0,
     "linux.namespaces[6].type"),
]


@pytest.mark.parametrize("what, edit, args, step, errno, field", KNOWN_STEPS,
                         ids=[k[0] for k in KNOWN_STEPS])
def test_a_config_failing_at_a_known_step(runtime, make_bundle, what, edit, args, step, errno,
                                          field):
    cid = "pm-" + what.replace(" ", "-")
    bundle = make_bundle(args, edit)
    err = one_line(runtime("create", "--bundle", bundle, cid))
    assert err.endswith(f"(post-mortem: pyrunc --root {runtime.root} explain {cid})")
    assert_gone(runtime, cid, bundle)
    [pm] = postmortems(runtime, cid)
    assert (pm["step"], pm["errno"], pm["field"]) == (step, errno, field), pm
    assert pm["message"] in err
    text = runtime("explain", cid, check=True).stdout
    assert f"`create` failed at {step}" in text


def test_a_failed_start_and_exec_are_kept_beside_the_container(runtime, make_bundle):
    def edit(config):
        config["hooks"] = {"startContainer": [{"path": "/bin/false"}]}
    bundle = make_bundle(("sleep", "100"), edit)
    runtime("create", "--bundle", bundle, "pm-start", check=True)
    err = one_line(runtime("exec", "pm-start", "/no/such/program"), 255)  # runc's code
    assert "explain pm-start" in err
    one_line(runtime("start", "pm-start"))
    kept = postmortems(runtime, "pm-start")
    assert [pm["verb"] for pm in kept] == ["start", "exec"]  # newest first
    assert (kept[1]["step"], kept[1]["field"]) == ("executable", "process.args")
    runtime("delete", "--force", "pm-start", check=True)


def test_errors_that_are_not_a_containers_failure_keep_nothing(runtime, make_bundle):
    bundle = make_bundle(("sleep", "100"))
    runtime("create", "--bundle", bundle, "pm-taken", check=True)
    err = one_line(runtime("create", "--bundle", bundle, "pm-taken"))
    assert "already exists" in err and "post-mortem" not in err
    assert "post-mortem" not in one_line(runtime("start", "pm-nosuch"))
    assert "post-mortem" not in one_line(runtime("exec", "pm-nosuch", "true"), 255)
    assert postmortems(runtime, "pm-taken") == []
    runtime("delete", "--force", "pm-taken", check=True)


def test_explain_of_an_unknown_id(runtime):
    err = one_line(runtime("explain", "pm-never"))
    assert "no container 'pm-never'" in err and "no post-mortem" in err


def test_a_state_root_that_is_not_ours_gets_no_postmortem(make_bundle, tmp_path):
    """A root somebody else made (a planted /tmp/pyrunc-<uid>, say) is not written to."""
    from conftest import Runtime
    root = tmp_path / "foreign-root"
    root.mkdir()
    os.chown(root, 65534, 65534)
    bundle = make_bundle(("/no/such/program",), lambda c: c["linux"]["namespaces"].append(
        {"type": "bogus"}))
    err = one_line(Runtime(str(root))("create", "--bundle", bundle, "pm-foreign"))
    assert "post-mortem" not in err
    assert os.listdir(root) == []


def test_the_inits_own_error_survives_parallel_creates(runtime, make_bundle):
    """An init that fails before reading the parent's last message: the kernel reports the
    reset first, with the init's ERROR still queued (protocol.Channel.recv reads it). Under
    load, 1 create in 5 said only 'container init exited unexpectedly' before."""
    from concurrent.futures import ThreadPoolExecutor
    bundle = make_bundle(("true",), _sysctl)
    ids = [f"pm-par-{i}" for i in range(12)]
    with ThreadPoolExecutor(len(ids)) as pool:
        results = list(pool.map(lambda cid: runtime("create", "--bundle", bundle, cid), ids))
    errors = [one_line(r) for r in results]
    assert all("failed at sysctl net.ipv4.ip_forward: Invalid argument" in e for e in errors), \
        errors
    assert runtime.ids() == []
