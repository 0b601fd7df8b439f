"""`pyrunc explain --bundle` through the installed command: it makes nothing (no state, no
cgroup, no mount), prints the plan and warnings as text or JSON, and refuses a config create
would refuse with the same one-line error. The plan's content is unit-tested
(tests/unit/test_explain.py, whose module name this one must not take) and checked against
what create does in test_trace.py."""
import json

from conftest import cgroup_dirs, host_mounts_mentioning


def test_explain_makes_nothing(runtime, make_bundle):
    def edit(config):
        config["linux"]["rootPropagation"] = "private"
        config["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    bundle = make_bundle(("true",), edit)
    result = runtime("explain", "--bundle", bundle, "--format", "json", "exp-nothing",
                     check=True)
    explained = json.loads(result.stdout)
    assert explained["warnings"][0]["field"] == "linux.rootPropagation"
    assert "did you mean linux.rootfsPropagation?" in explained["warnings"][0]["message"]
    writes = [s for s in explained["steps"] if s["op"] == "cgroup-write"]
    assert any(s["field"] == "linux.resources.memory.limit" and s["value"] == str(64 << 20)
               and "exp-nothing" in s["path"] for s in writes)
    assert runtime.ids() == [] and not cgroup_dirs("exp-nothing")
    assert not host_mounts_mentioning(bundle)
    text = runtime("explain", "--bundle", bundle, check=True).stdout
    assert text.startswith("warnings:\n  linux.rootPropagation: unknown property")
    assert "plan (in the order it happens):" in text


def test_explain_refuses_what_create_refuses(runtime, make_bundle):
    def edit(config):
        config["linux"]["namespaces"].append({"type": "bogus"})
    bundle = make_bundle(("true",), edit)
    explained = runtime("explain", "--bundle", bundle)
    created = runtime("create", "--bundle", bundle, "exp-bad")
    assert explained.returncode == created.returncode == 1
    assert "Traceback" not in explained.stderr
    assert explained.stderr.strip() == \
        "pyrunc: config: linux.namespaces[6].type: unknown namespace type 'bogus'"
    assert created.stderr.startswith(explained.stderr.strip())
    assert runtime.ids() == []
