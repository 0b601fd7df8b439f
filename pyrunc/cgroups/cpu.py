"""The cpu controller: shares/weight, CFS quota, period and burst, realtime budget, idle; and the
cpu part of `events --stats` (v1 reads cpuacct, which this module's driver hands it)."""
from pyrunc.cgroups import values
from pyrunc.errors import ConfigError

NAME = "cpu"
F = "linux.resources.cpu"
MAX_SHARES = 262144


def read_config(resources):
    c = values.section(resources, "cpu")
    return {
        "shares": values.integer(c, "shares", F + ".shares", 2, MAX_SHARES,
                                 zero_unset=True),
        "quota": values.integer(c, "quota", F + ".quota", 1000, unlimited=True,
                                zero_unset=True),
        "burst": values.integer(c, "burst", F + ".burst", 0),
        "period": values.integer(c, "period", F + ".period", 1000, 1000000,
                                 zero_unset=True),
        "realtimeRuntime": values.integer(c, "realtimeRuntime", F + ".realtimeRuntime", 0,
                                          unlimited=True, zero_unset=True),
        "realtimePeriod": values.integer(c, "realtimePeriod", F + ".realtimePeriod", 1,
                                         zero_unset=True),
        "idle": values.integer(c, "idle", F + ".idle", 0, 1),
    }


def shares_to_weight(shares):
    """cpu.shares (2..262144, default 1024) onto cpu.weight (1..10000, default 100), the
    linear map runc uses, so the same config gives the same weight under either runtime."""
    return 1 + ((shares - 2) * 9999) // 262142


def writes(resources, d, updating=False):
    c = read_config(resources)
    out = []
    if d.version == 1:
        if c["shares"] is not None:
            out.append(("cpu.shares", str(c["shares"]), F + ".shares"))
        # The period first: a quota is checked against the period in force.
        if c["period"] is not None:
            out.append(("cpu.cfs_period_us", str(c["period"]), F + ".period"))
        if c["quota"] is not None:
            out.append(("cpu.cfs_quota_us", str(c["quota"]), F + ".quota"))
        if c["burst"] is not None:
            out.append(("cpu.cfs_burst_us", str(c["burst"]), F + ".burst"))
        if c["realtimePeriod"] is not None:
            out.append(("cpu.rt_period_us", str(c["realtimePeriod"]), F + ".realtimePeriod"))
        if c["realtimeRuntime"] is not None:
            out.append(("cpu.rt_runtime_us", str(c["realtimeRuntime"]), F + ".realtimeRuntime"))
        if c["idle"] is not None:
            out.append(("cpu.idle", str(c["idle"]), F + ".idle"))
        return out
    if c["shares"] is not None:
        out.append(("cpu.weight", str(shares_to_weight(c["shares"])), F + ".shares"))
    if c["quota"] is not None or c["period"] is not None:
        out.append(("cpu.max", _cpu_max(c["quota"], c["period"], d), F + ".quota"))
    if c["burst"] is not None:
        out.append(("cpu.max.burst", str(c["burst"]), F + ".burst"))
    for key in ("realtimeRuntime", "realtimePeriod"):
        if c[key] is not None:
            raise ConfigError(f"{F}.{key}", "cgroup v2 has no realtime CPU budget")
    if c["idle"] is not None:
        out.append(("cpu.idle", str(c["idle"]), F + ".idle"))
    return out


def _cpu_max(quota, period, d):
    """cpu.max is 'QUOTA PERIOD'; a missing half keeps the cgroup's current one."""
    current = (d.read("cpu.max") or "max 100000").split()
    quota_text = current[0] if quota is None else ("max" if quota == values.UNLIMITED else str(quota))
    period_text = current[1] if period is None else str(period)
    return f"{quota_text} {period_text}"


def stats(d, cpuacct=None):
    """runc's cpu stats: usage (ns) and throttling."""
    if d.version == 2:
        s = d.read_keyed("cpu.stat")
        return {"usage": {"total": s.get("usage_usec", 0) * 1000,
                          "kernel": s.get("system_usec", 0) * 1000,
                          "user": s.get("user_usec", 0) * 1000},
                "throttling": {"periods": s.get("nr_periods", 0),
                               "throttledPeriods": s.get("nr_throttled", 0),
                               "throttledTime": s.get("throttled_usec", 0) * 1000}}
    s = d.read_keyed("cpu.stat")
    out = {"usage": {}, "throttling": {"periods": s.get("nr_periods", 0),
                                       "throttledPeriods": s.get("nr_throttled", 0),
                                       "throttledTime": s.get("throttled_time", 0)}}
    if cpuacct is not None:
        ticks = cpuacct.read_keyed("cpuacct.stat")
        # cpuacct.stat counts USER_HZ ticks (100 a second on Linux); runc reports ns.
        out["usage"] = {"total": cpuacct.read_int("cpuacct.usage") or 0,
                        "percpu": [int(v) for v in (cpuacct.read("cpuacct.usage_percpu")
                                                    or "").split()],
                        "kernel": ticks.get("system", 0) * 10**7,
                        "user": ticks.get("user", 0) * 10**7}
    return out
