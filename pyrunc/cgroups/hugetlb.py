"""Huge pages: linux.resources.hugepageLimits as hugetlb.<size>.limit_in_bytes (v1) or
hugetlb.<size>.max (v2), with the reservation limits alongside where the kernel has them."""
from pyrunc.cgroups import values
from pyrunc.errors import ConfigError

NAME = "hugetlb"
F = "linux.resources.hugepageLimits"


def writes(resources, d, updating=False):
    out = []
    for i, entry in enumerate(values.items(resources, "hugepageLimits", F)):
        field = f"{F}[{i}]"
        size = values.string(entry, "pageSize", field + ".pageSize")
        limit = values.integer(entry, "limit", field + ".limit", 0, unlimited=True)
        if not size or limit is None:
            raise ConfigError(field, "needs pageSize and limit")
        if "/" in size or size.startswith("."):
            raise ConfigError(field + ".pageSize", f"{size!r} is not a page size")
        text = values.limit_text(limit, d.version == 2)
        names = ((f"hugetlb.{size}.limit_in_bytes", f"hugetlb.{size}.rsvd.limit_in_bytes")
                 if d.version == 1 else (f"hugetlb.{size}.max", f"hugetlb.{size}.rsvd.max"))
        if not d.exists(names[0]):
            raise ConfigError(field + ".pageSize", f"{size} is not a huge page size of this host")
        out.append((names[0], text, field + ".limit"))
        if d.exists(names[1]):
            out.append((names[1], text, field + ".limit"))
    return out


def stats(d):
    out = {}
    for name in sorted(_listdir(d)):
        parts = name.split(".")
        if len(parts) != 3 or parts[0] != "hugetlb" or parts[2] not in ("usage_in_bytes", "current"):
            continue
        size = parts[1]
        if d.version == 1:
            out[size] = {"usage": d.read_int(f"hugetlb.{size}.usage_in_bytes") or 0,
                         "max": d.read_int(f"hugetlb.{size}.max_usage_in_bytes") or 0,
                         "failcnt": d.read_int(f"hugetlb.{size}.failcnt") or 0}
        else:
            out[size] = {"usage": d.read_int(f"hugetlb.{size}.current") or 0,
                         "failcnt": d.read_keyed(f"hugetlb.{size}.events").get("max", 0)}
    return out


def _listdir(d):
    import os
    try:
        return os.listdir(d.path)
    except (OSError, TypeError):
        return []
