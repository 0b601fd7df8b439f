"""The pids controller: linux.resources.pids.limit as pids.max (same file on v1 and v2)."""
from pyrunc.cgroups import values

NAME = "pids"
F = "linux.resources.pids.limit"


def writes(resources, d, updating=False):
    """runtime-spec 1.3 (and runc 1.4): 0 is a limit like any other (no fork at all), -1 is
    "max", and a limit left out (or null) leaves pids.max alone."""
    p = values.section(resources, "pids")
    limit = values.integer(p, "limit", F, unlimited=True, minimum=0)
    if limit is None:
        return []
    return [("pids.max", "max" if limit < 0 else str(limit), F)]


def stats(d):
    return {"current": d.read_int("pids.current") or 0, "limit": d.read_int("pids.max") or 0}
