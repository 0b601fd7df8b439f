"""The memory controller: linux.resources.memory on v1 (memory.limit_in_bytes & co.) and v2
(memory.max, memory.low, memory.swap.max), and the memory part of `events --stats`."""
from pyrunc.cgroups import values
from pyrunc.cgroups.files import CgroupError
from pyrunc.errors import ConfigError

NAME = "memory"
F = "linux.resources.memory"


def read_config(resources):
    m = values.section(resources, "memory")
    return {
        "limit": _bytes(m, "limit"),
        "reservation": _bytes(m, "reservation"),
        "swap": _bytes(m, "swap"),
        "kernel": _bytes(m, "kernel"),
        "kernelTCP": _bytes(m, "kernelTCP"),
        "swappiness": values.integer(m, "swappiness", F + ".swappiness", 0, 100),
        "disableOOMKiller": values.boolean(m, "disableOOMKiller", F + ".disableOOMKiller"),
        "useHierarchy": values.boolean(m, "useHierarchy", F + ".useHierarchy"),
        "checkBeforeUpdate": values.boolean(m, "checkBeforeUpdate", F + ".checkBeforeUpdate"),
    }


def _bytes(m, key):
    return values.integer(m, key, f"{F}.{key}", 0, unlimited=True, zero_unset=True)


def writes(resources, d, updating=False):
    m = read_config(resources)
    if m["checkBeforeUpdate"] and updating and m["limit"] not in (None, values.UNLIMITED):
        usage = d.read_int("memory.usage_in_bytes" if d.version == 1 else "memory.current")
        if usage is not None and usage > m["limit"]:
            raise CgroupError(F + ".limit", f"{m['limit']} is below the current usage {usage} "
                              "(checkBeforeUpdate)")
    return _v1(m, d) if d.version == 1 else _v2(m, d)


def _check_swap_accounting(d, name):
    """A swap limit needs the kernel's swap accounting, without which the file is missing:
    say so, rather than only name the file."""
    if not d.exists(name):
        raise CgroupError(F + ".swap", f"this host's kernel does not account swap (no {name}): "
                          "no swap limit can be set")


def _v1(m, d):
    out = []
    limit, swap = m["limit"], m["swap"]
    if swap is not None:
        _check_swap_accounting(d, "memory.memsw.limit_in_bytes")
    limit_write = ("memory.limit_in_bytes", values.limit_text(limit, False), F + ".limit")
    swap_write = ("memory.memsw.limit_in_bytes", values.limit_text(swap, False), F + ".swap")
    if limit is not None and swap is not None:
        # memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes: raise the swap
        # limit first when it grows (or becomes unlimited), lower the memory limit first
        # otherwise.
        current = d.read_int("memory.memsw.limit_in_bytes")
        grows = swap == values.UNLIMITED or (current is not None and swap > current)
        out += [swap_write, limit_write] if grows else [limit_write, swap_write]
    elif limit is not None:
        out.append(limit_write)
    elif swap is not None:
        out.append(swap_write)
    if m["reservation"] is not None:
        out.append(("memory.soft_limit_in_bytes", values.limit_text(m["reservation"], False),
                    F + ".reservation"))
    if m["kernelTCP"] is not None:
        out.append(("memory.kmem.tcp.limit_in_bytes", values.limit_text(m["kernelTCP"], False),
                    F + ".kernelTCP"))
    # memory.kernel: kernels since 5.16 ignore kmem limits (and 6.x removed the file's
    # effect); runc ignores the field too, so it is accepted and not written.
    if m["swappiness"] is not None:
        out.append(("memory.swappiness", str(m["swappiness"]), F + ".swappiness"))
    if m["disableOOMKiller"]:
        out.append(("memory.oom_control", "1", F + ".disableOOMKiller"))
    if m["useHierarchy"] is False:
        raise ConfigError(F + ".useHierarchy", "false is not supported: kernels since 6.0 "
                          "always use the hierarchy")
    return out


def _v2(m, d):
    out = []
    if m["limit"] is not None:
        out.append(("memory.max", values.limit_text(m["limit"], True), F + ".limit"))
    if m["swap"] is not None:
        _check_swap_accounting(d, "memory.swap.max")
        out.append(("memory.swap.max", _v2_swap(m["limit"], m["swap"]), F + ".swap"))
    if m["reservation"] is not None:
        out.append(("memory.low", values.limit_text(m["reservation"], True), F + ".reservation"))
    if m["swappiness"] is not None:
        raise ConfigError(F + ".swappiness", "cgroup v2 has no per-cgroup swappiness")
    if m["kernelTCP"] not in (None, 0, values.UNLIMITED):
        raise ConfigError(F + ".kernelTCP", "cgroup v2 has no separate TCP memory limit")
    if m["disableOOMKiller"]:
        raise ConfigError(F + ".disableOOMKiller", "cgroup v2 cannot disable the OOM killer")
    return out


def _v2_swap(limit, swap):
    """OCI's swap is memory+swap (the v1 meaning); memory.swap.max is swap alone."""
    if swap == values.UNLIMITED:
        return "max"
    if limit is None or limit == values.UNLIMITED:
        raise ConfigError(F + ".swap", "a swap limit needs a memory limit on cgroup v2")
    if swap < limit:
        raise ConfigError(F + ".swap", f"{swap} is below memory.limit {limit} (swap counts "
                          "memory plus swap)")
    return str(swap - limit)


def stats(d):
    if d.version == 1:
        raw = d.read_keyed("memory.stat")
        return {
            "cache": raw.get("total_cache", raw.get("cache", 0)),
            "usage": _entry(d, "memory"),
            "swap": _entry(d, "memory.memsw"),
            "kernel": _entry(d, "memory.kmem"),
            "kernelTCP": _entry(d, "memory.kmem.tcp"),
            "raw": raw,
        }
    raw = d.read_keyed("memory.stat")
    events = d.read_keyed("memory.events")
    return {
        "cache": raw.get("file", 0),
        "usage": {"limit": _v2_limit(d.read("memory.max")),
                  "usage": d.read_int("memory.current") or 0,
                  "max": d.read_int("memory.peak") or 0,
                  "failcnt": events.get("max", 0)},
        "swap": {"limit": _v2_limit(d.read("memory.swap.max")),
                 "usage": d.read_int("memory.swap.current") or 0, "failcnt": 0},
        "raw": raw,
    }


def oom_kills(d):
    """How many processes the OOM killer killed in this cgroup so far."""
    if d.version == 1:
        return d.read_keyed("memory.oom_control").get("oom_kill", 0)
    return d.read_keyed("memory.events").get("oom_kill", 0)


def _entry(d, prefix):
    return {"limit": d.read_int(prefix + ".limit_in_bytes") or 0,
            "usage": d.read_int(prefix + ".usage_in_bytes") or 0,
            "max": d.read_int(prefix + ".max_usage_in_bytes") or 0,
            "failcnt": d.read_int(prefix + ".failcnt") or 0}


def _v2_limit(text):
    return 2**64 - 1 if text in (None, "max") else int(text)
