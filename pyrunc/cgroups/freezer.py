"""Pause and resume: the v1 freezer (freezer.state) or v2's cgroup.freeze. Freezing is not
instant (tasks stop at their next safe point), so both wait until the kernel reports it done."""
import os
import time

from pyrunc.cgroups.files import CgroupDir, CgroupError

NAME = "freezer"
# layout.UNIFIED, the key of the v2 hierarchy; not imported from there: the status check of
# every command (state.py) needs this module alone (tests/unit/test_cgroup_drivers.py checks).
UNIFIED = ""


def freezer_of(paths):
    """The CgroupDir that freezes a container with these cgroup paths ({key: directory}): the
    v1 freezer hierarchy's, else v2's cgroup.freeze; None without either."""
    for key, path in paths.items():
        if key and NAME in key.split(","):
            return CgroupDir(path, 1)
    unified = paths.get(UNIFIED)
    if unified and os.path.exists(os.path.join(unified, "cgroup.freeze")):
        return CgroupDir(unified, 2)
    return None


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
