"""CPU affinity of the container's processes.

Two rules, both runc's: a container process never keeps the affinity of whoever ran the
runtime (runc 1.2.7 / 1.3.1: under `taskset -c 0 runc run`, the container used to be pinned to
CPU 0); it gets every CPU its cpuset allows, which the kernel works out when it is asked for all
of them. And process.execCPUAffinity (runtime-spec 1.2, runc 1.3) for exec'd processes: the
process runs on `initial` while it moves into the container's cgroups, on `final` (or, without
it, the cpuset's) afterwards. The spec leaves the init out of it: the init gets the reset only.

The parent applies both to its child by pid around the cgroup join (sched_setaffinity works on
any process we may signal), so the child's code is not involved. Parsing is pure.
"""
import os

POSSIBLE = "/sys/devices/system/cpu/possible"


def parse_cpu_list(text):
    """'0-3,7' -> {0, 1, 2, 3, 7}; ValueError with the reason for anything else. An empty
    list is an empty set (the spec: "omitted or empty" is unset)."""
    text = text.strip()
    if not text:
        return set()
    cpus = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{part!r} is not a CPU number or a range like 0-3")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"the range {part!r} runs backwards")
        cpus.update(range(first, last + 1))
    return cpus


def format_cpu_list(cpus):
    """{0, 1, 2, 5} -> '0-2,5' (the kernel's own way, as in Cpus_allowed_list)."""
    parts = []
    for cpu in sorted(cpus):
        if parts and parts[-1][1] == cpu - 1:
            parts[-1][1] = cpu
        else:
            parts.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def host_cpus(path=POSSIBLE):
    """Every CPU this kernel may bring online."""
    try:
        with open(path) as f:
            return parse_cpu_list(f.read())
    except (OSError, ValueError):
        return set(range(os.cpu_count() or 1))


def validate(affinity, field, cpus=None):
    """Check an execCPUAffinity object; return {"initial": set, "final": set} (empty: unset).
    cpus: the host's CPUs (host_cpus() by default)."""
    from pyrunc.errors import ConfigError
    if not isinstance(affinity, dict):
        raise ConfigError(field, "must be an object with initial and/or final")
    result = {}
    for key in ("initial", "final"):
        value = affinity.get(key, "")
        if not isinstance(value, str):
            raise ConfigError(f"{field}.{key}", "must be a string (a CPU list like 0-3,7)")
        try:
            wanted = parse_cpu_list(value)
        except ValueError as e:
            raise ConfigError(f"{field}.{key}", f"{value!r}: {e}") from None
        if wanted:
            cpus = host_cpus() if cpus is None else cpus
            missing = wanted - cpus
            if missing:
                raise ConfigError(f"{field}.{key}", f"{value!r}: CPU "
                                  f"{format_cpu_list(missing)} is not on this host (its CPUs "
                                  f"are {format_cpu_list(cpus)})")
        result[key] = wanted
    return result


def join_with(join, affinity=None, field="process.execCPUAffinity", setaffinity=None):
    """A cgroup join callback (pid -> None) wrapped in the transition: initial before the
    join, final (or every CPU: the reset) after it. affinity: validate()'s result, or None."""
    affinity = affinity or {}
    setaffinity = setaffinity or os.sched_setaffinity

    def joined(pid):
        if affinity.get("initial"):
            _set(setaffinity, pid, affinity["initial"], f"{field}.initial")
        join(pid)
        if affinity.get("final"):
            _set(setaffinity, pid, affinity["final"], f"{field}.final")
        else:
            _set(setaffinity, pid, host_cpus(), None)
    return joined


def _set(setaffinity, pid, cpus, field):
    from pyrunc.errors import PyruncError
    try:
        setaffinity(pid, cpus)
    except ProcessLookupError:
        pass  # the child is gone: its own report says why
    except OSError as e:
        # EINVAL: none of these CPUs is in the container's cpuset
        what = f"{field}: CPU {format_cpu_list(cpus)}" if field else "the CPU affinity reset"
        raise PyruncError(f"{what}: the kernel refused it for pid {pid} ({e.strerror}): "
                          "outside the container's cpuset?") from None
