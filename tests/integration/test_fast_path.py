"""Every verb engines call goes through the fast path (pyrunc.entry): run with `-X importtime`
against a real container, it imports neither click (nor pyrunc.cli, its front end), yaml nor
pyroute2, and still does its job, seen from outside (the container's state, its cgroup's
freezer, its pids limit) and from its output."""
import json
import os
import subprocess
import sys
import tempfile

import pytest

from conftest import PYRUNC, cgroup_dirs

FORBIDDEN = ("click", "yaml", "pyroute2", "pyrunc.cli")


def imported_by(runtime, *args, stdin=b""):
    """(result, set of modules imported) of one pyrunc command under -X importtime."""
    argv = [sys.executable, "-X", "importtime", "-sSE", PYRUNC, "--root", runtime.root, *args]
    # Files, not pipes: a container that create starts inherits them and would hold a pipe open.
    with tempfile.TemporaryFile() as inp, tempfile.TemporaryFile() as out, \
            tempfile.TemporaryFile() as err:
        inp.write(stdin)
        inp.seek(0)
        code = subprocess.run(argv, stdin=inp, stdout=out, stderr=err, timeout=60).returncode
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    modules = {line.split("|")[-1].strip() for line in stderr.splitlines()
               if line.startswith("import time:")}
    stderr = "\n".join(line for line in stderr.splitlines() if not line.startswith("import time:"))
    return subprocess.CompletedProcess(argv, code, stdout, stderr), modules


def heavy(modules):
    return sorted(m for m in modules
                  if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


@pytest.fixture
def running(runtime, make_bundle):
    cid = f"fast-{os.path.basename(runtime.root)}"
    bundle = make_bundle(("sleep", "1000"))
    runtime("run", "--detach", "--bundle", bundle, cid, check=True)
    return cid


def pids_max(cid):
    """pids.max of the container's cgroup (the pids hierarchy's, v1 or v2)."""
    path = next(os.path.join(d, "pids.max") for d in cgroup_dirs(cid)
                if os.path.exists(os.path.join(d, "pids.max")))
    with open(path) as f:
        return f.read().strip()


def test_verbs_on_a_running_container_take_the_fast_path(runtime, running):
    cid = running
    checks = [
        (("state", cid), lambda out: json.loads(out)["status"] == "running"),
        (("list", "--format", "json"), lambda out: [c["id"] for c in json.loads(out)] == [cid]),
        (("list", "-q"), lambda out: out.split() == [cid]),
        (("ps", "--format", "json", cid),
         lambda out: runtime.state(cid)["pid"] in json.loads(out)),
        (("events", "--stats", cid), lambda out: json.loads(out)["type"] == "stats"),
        (("exec", "-e", "FAST=yes", cid, "sh", "-c", "echo $FAST"),
         lambda out: out.strip() == "yes"),
        (("update", "--pids-limit", "77", cid), lambda out: pids_max(cid) == "77"),
        (("pause", cid), lambda out: runtime.state(cid)["status"] == "paused"),
        (("resume", cid), lambda out: runtime.state(cid)["status"] == "running"),
        (("kill", cid, "KILL"), lambda out: True),
    ]
    for args, check in checks:
        result, modules = imported_by(runtime, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "pyrunc.entry" in modules and "pyrunc.commands" in modules, args
        assert not heavy(modules), (args, heavy(modules))
        assert check(result.stdout), (args, result.stdout)


def test_update_from_stdin_takes_the_fast_path(runtime, running):
    result, modules = imported_by(runtime, "update", "-r", "-", running,
                                  stdin=b'{"pids": {"limit": 55}}')
    assert result.returncode == 0, result.stderr
    assert not heavy(modules), heavy(modules)
    assert pids_max(running) == "55"


def test_ps_table_takes_the_fast_path(runtime, running):
    result, modules = imported_by(runtime, "ps", running)
    assert result.returncode == 0, result.stderr
    assert not heavy(modules), heavy(modules)
    header, *rows = result.stdout.splitlines()
    assert "PID" in header.split()
    assert any("sleep 1000" in row for row in rows), rows


def test_lifecycle_verbs_take_the_fast_path(runtime, make_bundle):
    cid = f"fast-life-{os.path.basename(runtime.root)}"
    bundle = make_bundle(("true",))
    for args in (("create", "--bundle", bundle, cid), ("start", cid), ("delete", "--force", cid),
                 ("run", "--bundle", bundle, cid)):
        result, modules = imported_by(runtime, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert not heavy(modules), (args, heavy(modules))
    assert runtime.ids() == []


@pytest.mark.parametrize("args", [("list", "--format", "yaml"), ("exec", "--nope", "x", "true"),
                                  ("ps", "--help")])
def test_what_the_fast_path_does_not_take_goes_to_click(runtime, args):
    """A bad choice, an unknown flag, help: click answers, with its usage messages."""
    result, modules = imported_by(runtime, *args)
    assert "click" in modules, args
    if "--help" in args:
        assert result.returncode == 0 and "Usage:" in result.stdout
    else:
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip(), args


def test_exec_keeps_the_command_after_the_id_whole(runtime, running):
    """Options after the id are the command's (as runc and click take them)."""
    result, _modules = imported_by(runtime, "exec", running, "sh", "-c", 'printf "%s %s" "$0" "$1"',
                                  "-e", "--")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "-e --"
