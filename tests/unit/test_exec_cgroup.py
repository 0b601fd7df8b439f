"""`exec --cgroup` values against a container's cgroup paths (cgroups.layout.exec_paths): the
directories the exec'd process joins, on v1, hybrid and v2 layouts, and the refusals."""
import pytest

from pyrunc.cgroups.layout import exec_paths

HYBRID = {"cpu,cpuacct": "/cg/cpu,cpuacct/c1", "memory": "/cg/memory/c1",
          "name=systemd": "/cg/systemd/c1", "": "/cg/unified/c1"}
V2 = {"": "/cg/c1"}


def test_no_request_is_the_containers_own_cgroup():
    assert exec_paths(HYBRID, []) == HYBRID


def test_a_sub_cgroup_everywhere():
    assert exec_paths(V2, ["sub/deeper"]) == {"": "/cg/c1/sub/deeper"}
    assert exec_paths(HYBRID, ["/sub/"]) == {k: v + "/sub" for k, v in HYBRID.items()}


def test_slash_alone_is_the_containers_own():
    assert exec_paths(V2, ["/"]) == V2


def test_a_controller_names_its_hierarchy_only():
    got = exec_paths(HYBRID, ["cpu:c", "sub"])
    assert got == {"cpu,cpuacct": "/cg/cpu,cpuacct/c1/c", "memory": "/cg/memory/c1/sub",
                   "name=systemd": "/cg/systemd/c1/sub", "": "/cg/unified/c1/sub"}
    got = exec_paths(HYBRID, ["memory,cpuacct:m"])
    assert got["memory"] == "/cg/memory/c1/m" and got["cpu,cpuacct"] == "/cg/cpu,cpuacct/c1/m"
    assert got[""] == "/cg/unified/c1"


@pytest.mark.parametrize("paths, requests, reason", [
    (V2, ["../x"], "climb out"),
    (V2, ["a/../../x"], "climb out"),
    (V2, ["memory:sub"], "only be named on cgroup v1"),
    (HYBRID, ["bogus:sub"], "no cgroup v1 hierarchy of the container has this controller"),
    (HYBRID, ["a", "b"], "given twice"),
    (HYBRID, ["memory:a", "memory:b"], "memory is given twice"),
    (HYBRID, ["cpu:a", "cpuacct:b"], "share one hierarchy"),
    (HYBRID, [",memory:a"], "empty controller name"),
])
def test_refusals_say_why(paths, requests, reason):
    with pytest.raises(ValueError) as e:
        exec_paths(paths, requests)
    assert reason in str(e.value)
