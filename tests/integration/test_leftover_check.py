"""The suite's leftover check (tests/leftovers.py) sees a container in each place it looks, so
that the tests relying on it cannot pass by looking nowhere."""
from conftest import env_with
from leftovers import Leftovers


def test_the_leftover_check_sees_a_created_container(runtime, make_bundle, marker):
    bundle = make_bundle(["sleep", "1000"])
    check = Leftovers(runtime, "lo-seen", markers=marker, mentions=(bundle,))
    assert check.found() == []
    runtime("create", "-b", bundle, "lo-seen", env=env_with(marker), check=True)
    pid = runtime.state("lo-seen")["pid"]
    found = check.found()
    assert any(f.startswith("containers in ") for f in found), found
    assert "state dir of lo-seen" in found
    assert any(f.startswith("cgroup ") and f.endswith("/lo-seen") for f in found), found
    # the waiting init still has the command's environment, marker included
    assert any(f.startswith(f"process {pid}:") for f in found), found
    runtime("delete", "--force", "lo-seen", check=True)
    check.check()
