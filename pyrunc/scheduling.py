"""process.ioPriority, process.scheduler and linux.personality: their names and values, checked
in the parent and applied by the child before it gives up its capabilities."""
from pyrunc.errors import ConfigError

IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                  "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02,
               "SCHED_FLAG_DL_OVERRUN": 0x04, "SCHED_FLAG_KEEP_POLICY": 0x08,
               "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
PERSONALITY_DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}
_REALTIME = ("SCHED_FIFO", "SCHED_RR")


def _int(obj, key, field, low, high, default=0):
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{field}.{key}", f"must be an integer from {low} to {high}")
    return value


def validate_io_priority(io, field):
    if not isinstance(io, dict):
        raise ConfigError(field, "must be an object")
    if io.get("class") not in IOPRIO_CLASSES:
        raise ConfigError(f"{field}.class", f"unknown class {io.get('class')!r} "
                          f"({', '.join(IOPRIO_CLASSES)})")
    _int(io, "priority", field, 0, 7)


def validate_scheduler(sched, field):
    if not isinstance(sched, dict):
        raise ConfigError(field, "must be an object")
    policy = sched.get("policy")
    if policy not in SCHED_POLICIES:
        raise ConfigError(f"{field}.policy", f"unknown policy {policy!r}")
    _int(sched, "nice", field, -20, 19)
    _int(sched, "priority", field, 0, 99)
    if (sched.get("priority") or 0) and policy not in _REALTIME:
        raise ConfigError(f"{field}.priority", "only SCHED_FIFO and SCHED_RR take a priority")
    for key in ("runtime", "deadline", "period"):
        _int(sched, key, field, 0, 2**63 - 1)
    for flag in sched.get("flags") or []:
        if flag not in SCHED_FLAGS:
            raise ConfigError(f"{field}.flags", f"unknown flag {flag!r}")


def validate_personality(persona, field):
    if not isinstance(persona, dict):
        raise ConfigError(field, "must be an object")
    if persona.get("domain") not in PERSONALITY_DOMAINS:
        raise ConfigError(f"{field}.domain", f"unknown domain {persona.get('domain')!r} "
                          "(LINUX or LINUX32)")
    if persona.get("flags"):
        raise ConfigError(f"{field}.flags", "no personality flags are defined by the spec yet")


def apply(process, persona):
    """In the child, while it still holds CAP_SYS_NICE/CAP_SYS_ADMIN. persona: the config's
    linux.personality, or None."""
    from pyrunc import native

    io = process.get("ioPriority")
    if io:
        native.ioprio_set((IOPRIO_CLASSES[io["class"]] << 13) | io.get("priority", 0))
    sched = process.get("scheduler")
    if sched:
        flags = 0
        for name in sched.get("flags") or []:
            flags |= SCHED_FLAGS[name]
        native.sched_setattr(SCHED_POLICIES[sched["policy"]], flags, sched.get("nice", 0),
                             sched.get("priority", 0), sched.get("runtime", 0),
                             sched.get("deadline", 0), sched.get("period", 0))
    if persona:
        native.personality(PERSONALITY_DOMAINS[persona["domain"]])
