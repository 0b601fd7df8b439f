"""The suite's leftover check (tests/leftovers.py) sees a container in each place it looks, so
that the tests relying on it cannot pass by looking nowhere."""
import os

from conftest import env_with
from leftovers import Leftovers
from pyrunc.state import POSTMORTEMS


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


def test_the_ring_of_post_mortems_is_not_a_leftover(runtime, make_bundle):
    """A failed create keeps a post-mortem under the state root (pyrunc/postmortem.py): a
    record, bounded, never a container, so the check does not count it."""
    bundle = make_bundle(["/no/such/program"])
    check = Leftovers(runtime, "lo-failed", mentions=(bundle,))
    assert runtime("create", "-b", bundle, "lo-failed").returncode == 1
    assert os.path.isdir(os.path.join(runtime.root, POSTMORTEMS))
    assert check.found() == []


def test_the_leftover_check_sees_a_host_link_not_given_back(runtime):
    """linux.netDevices: an interface a container took must be back on the host by name."""
    assert Leftovers(runtime, links=("lo",)).found() == []
    assert Leftovers(runtime, links=("pyrnone",)).found() == ["link pyrnone: not back on the host"]
