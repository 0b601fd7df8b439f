"""The pids controller: linux.resources.pids.limit as pids.max (same file on v1 and v2)."""
from pyrunc.cgroups import values

NAME = "pids"
F = "linux.resources.pids.limit"


def writes(resources, d, updating=False):
    p = values.section(resources, "pids")
    limit = values.integer(p, "limit", F, unlimited=True, minimum=0)
    if limit is None or limit == 0:
        return []  # 0: unset, as runc reads it (Docker sends 0 for "no change")
    return [("pids.max", "max" if limit < 0 else str(limit), F)]


def stats(d):
    return {"current": d.read_int("pids.current") or 0, "limit": d.read_int("pids.max") or 0}
