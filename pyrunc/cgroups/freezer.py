"""Pause and resume: the v1 freezer (freezer.state) or v2's cgroup.freeze. Freezing is not
instant (tasks stop at their next safe point), so both wait until the kernel reports it done."""
import time

from pyrunc.cgroups.files import CgroupError

NAME = "freezer"


def set_frozen(d, frozen, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        if d.version == 1:
            want = "FROZEN" if frozen else "THAWED"
            d.write("freezer.state", want, "")
            if d.read("freezer.state") == want:
                return
        else:
            d.write("cgroup.freeze", "1" if frozen else "0", "")
            if is_frozen(d) == frozen:
                return
        if time.monotonic() > deadline:
            raise CgroupError("", f"the cgroup {d.path} did not {'freeze' if frozen else 'thaw'} "
                              f"within {timeout:g} s")
        time.sleep(0.005)


def is_frozen(d):
    if d.version == 1:
        return d.read("freezer.state") == "FROZEN"
    return d.read_keyed("cgroup.events").get("frozen") == 1
