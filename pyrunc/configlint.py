"""Warnings about a config that pyrunc (and runc) would accept but that is probably a mistake:
an unknown or misspelt property (the runtime spec says to ignore unknown properties, so a typo
silently drops a setting), an ambient capability the kernel will not raise, a memory limit
below what the runtime itself needs to start the container, a seccomp profile that denies a
call the program's libc makes before main().

Used by `pyrunc explain`, never on the path of `create`: each warning is a plain dict
{"field", "message"}, and the checks only read the config.
"""
import difflib

# The properties of config.json that runtime-spec 1.2 defines, as a tree. A dict is an object
# whose keys are known; [dict] an array of such objects; FREE a map whose keys are the user's
# (annotations, sysctl...); None a value that is not looked into.
FREE = "free"

_HOOK = [{"path": None, "args": None, "env": None, "timeout": None}]
_THROTTLE = [{"major": None, "minor": None, "rate": None}]
_ID_MAPPING = [{"containerID": None, "hostID": None, "size": None}]

SCHEMA = {
    "ociVersion": None,
    "root": {"path": None, "readonly": None},
    "mounts": [{"destination": None, "source": None, "options": None, "type": None,
                "uidMappings": _ID_MAPPING, "gidMappings": _ID_MAPPING}],
    "process": {
        "terminal": None, "consoleSize": {"height": None, "width": None}, "cwd": None,
        "env": None, "args": None, "commandLine": None,
        "rlimits": [{"type": None, "soft": None, "hard": None}],
        "apparmorProfile": None,
        "capabilities": {"bounding": None, "effective": None, "inheritable": None,
                         "permitted": None, "ambient": None},
        "noNewPrivileges": None, "oomScoreAdj": None,
        "scheduler": {"policy": None, "nice": None, "priority": None, "flags": None,
                      "runtime": None, "deadline": None, "period": None},
        "selinuxLabel": None, "ioPriority": {"class": None, "priority": None},
        "execCPUAffinity": {"initial": None, "final": None},
        "user": {"uid": None, "gid": None, "umask": None, "additionalGids": None,
                 "username": None},
    },
    "hostname": None,
    "domainname": None,
    "hooks": {kind: _HOOK for kind in ("prestart", "createRuntime", "createContainer",
                                       "startContainer", "poststart", "poststop")},
    "annotations": FREE,
    "linux": {
        "namespaces": [{"type": None, "path": None}],
        "uidMappings": _ID_MAPPING, "gidMappings": _ID_MAPPING,
        "timeOffsets": FREE,
        "devices": [{"type": None, "path": None, "major": None, "minor": None,
                     "fileMode": None, "uid": None, "gid": None}],
        "cgroupsPath": None,
        "rootfsPropagation": None,
        "resources": {
            "devices": [{"allow": None, "type": None, "major": None, "minor": None,
                         "access": None}],
            "memory": {"limit": None, "reservation": None, "swap": None, "kernel": None,
                       "kernelTCP": None, "swappiness": None, "disableOOMKiller": None,
                       "useHierarchy": None, "checkBeforeUpdate": None},
            "cpu": {"shares": None, "quota": None, "burst": None, "period": None,
                    "realtimeRuntime": None, "realtimePeriod": None, "cpus": None,
                    "mems": None, "idle": None},
            "blockIO": {"weight": None, "leafWeight": None,
                        "weightDevice": [{"major": None, "minor": None, "weight": None,
                                          "leafWeight": None}],
                        "throttleReadBpsDevice": _THROTTLE,
                        "throttleWriteBpsDevice": _THROTTLE,
                        "throttleReadIOPSDevice": _THROTTLE,
                        "throttleWriteIOPSDevice": _THROTTLE},
            "hugepageLimits": [{"pageSize": None, "limit": None}],
            "network": {"classID": None, "priorities": [{"name": None, "priority": None}]},
            "pids": {"limit": None},
            "rdma": FREE,
            "unified": FREE,
        },
        "intelRdt": {"closID": None, "l3CacheSchema": None, "memBwSchema": None,
                     "schemata": None, "enableCMT": None, "enableMBM": None,
                     "enableMonitoring": None},
        "memoryPolicy": {"mode": None, "nodes": None, "flags": None},
        "netDevices": FREE,
        "sysctl": FREE,
        "seccomp": {"defaultAction": None, "defaultErrnoRet": None, "architectures": None,
                    "flags": None, "listenerPath": None, "listenerMetadata": None,
                    "syscalls": [{"names": None, "action": None, "errnoRet": None,
                                  "args": [{"index": None, "value": None, "valueTwo": None,
                                            "op": None}]}]},
        "maskedPaths": None, "readonlyPaths": None, "mountLabel": None,
        "personality": {"domain": None, "flags": None},
    },
    # Other platforms' sections: not Linux's business, not looked into.
    "solaris": None, "windows": None, "vm": None, "zos": None,
}

# The memory limit (bytes) under which the container's init, which is pyrunc (a Python
# interpreter) until it execs the program, risks the OOM killer while it sets up:
# scripts/bench-memory-floor measured /bin/true's floor at 704 KiB in the cgroup v2 guest
# (about 200 KiB on the hybrid host, where less of the setup is charged); 1 MiB is that with
# some room for a program's own first pages.
MEMORY_FLOOR = 1024 * 1024

# What a program's C library calls before main() (glibc, dynamically or statically linked, and
# musl): a profile that denies one of them lets pyrunc exec the program, which then dies or
# fails before it runs a line of its own. execve is pyrunc's own last call.
LIBC_STARTUP = ("execve", "brk", "mmap", "munmap", "mprotect", "arch_prctl", "openat", "read",
                "pread64", "close", "newfstatat", "set_tid_address", "set_robust_list",
                "rseq", "prlimit64", "exit_group")
ALLOWING = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
# The engines' default profile as this host has it (containers-common's, which podman and
# CRI-O load): what a profile denies of what it allows is worth a look.
DEFAULT_PROFILE = "/usr/share/containers/seccomp.json"


def warnings(config):
    """Every warning for config (a dict as read from config.json), most important first."""
    found = []
    found += unknown_fields(config)
    found += _capability_warnings(config)
    found += _memory_warnings(config)
    found += _seccomp_warnings(config)
    return found


def _warning(field, message):
    return {"field": field, "message": message}


# -- unknown properties ------------------------------------------------------------------------

def _known_paths(schema=SCHEMA, prefix=""):
    """Every known property as (dotted path, its leaf name); arrays are written as `[]`."""
    out = []
    for key, sub in schema.items():
        path = f"{prefix}{key}"
        out.append((path, key))
        if isinstance(sub, list):
            out += _known_paths(sub[0], path + "[].")
        elif isinstance(sub, dict):
            out += _known_paths(sub, path + ".")
    return out


def unknown_fields(config):
    warned = []
    _walk(config, SCHEMA, "", "", warned)
    return warned


def _walk(value, schema, where, pattern, warned):
    """where: the JSON path with indexes (mounts[2].type); pattern: the same without them
    (mounts[].type), to find the known paths near a misspelling."""
    if isinstance(schema, list):
        if isinstance(value, list):
            for i, item in enumerate(value):
                _walk(item, schema[0], f"{where}[{i}]", pattern + "[]", warned)
        return
    if not isinstance(schema, dict) or not isinstance(value, dict):
        return
    for key, sub_value in value.items():
        path = f"{where}.{key}" if where else key
        if key in schema:
            _walk(sub_value, schema[key], path, f"{pattern}.{key}" if pattern else key, warned)
            continue
        guess = suggest(key, schema, pattern)
        hint = f": did you mean {guess}?" if guess else ""
        warned.append(_warning(path, f"unknown property, ignored (runc ignores it too){hint}"))


def suggest(key, siblings, pattern):
    """The property key was probably meant to be: a close spelling among its siblings, else
    the same name (or a close one) elsewhere in the config, named by its full path."""
    close = difflib.get_close_matches(key, list(siblings), n=1, cutoff=0.75)
    if close:
        return f"{pattern}.{close[0]}".replace("[]", "") if pattern else close[0]
    paths = _known_paths()
    lowered = key.lower()
    same = [p for p, leaf in paths if leaf.lower() == lowered]
    if same:
        return same[0].replace("[]", "")
    # A name that is the tail or the head of a known one (rootPropagation for
    # rootfsPropagation, shares for cpu.shares) or merely close to it.
    leaves = {}
    for p, leaf in paths:
        leaves.setdefault(leaf, p)
    close = difflib.get_close_matches(key, list(leaves), n=1, cutoff=0.75)
    if close:
        return leaves[close[0]].replace("[]", "")
    return None


# -- capabilities ---------------------------------------------------------------------------------

def _capability_warnings(config):
    process = config.get("process") if isinstance(config.get("process"), dict) else {}
    caps = process.get("capabilities") if isinstance(process.get("capabilities"), dict) else {}
    found = []
    sets = {k: set(v) for k, v in caps.items() if isinstance(v, list)}
    for name in caps.get("ambient") or []:
        missing = [s for s in ("inheritable", "permitted") if name not in sets.get(s, ())]
        if missing:
            found.append(_warning(
                "process.capabilities.ambient",
                f"{name} is not in {' and '.join(missing)}: the kernel raises an ambient "
                "capability only when it is permitted and inheritable, so it is skipped"))
    for name in sets.get("effective", ()):
        if name not in sets.get("permitted", ()):
            found.append(_warning("process.capabilities.effective",
                                  f"{name} is not permitted: capset() would refuse it"))
    return found


# -- memory ------------------------------------------------------------------------------------

def _memory_warnings(config):
    linux = config.get("linux") if isinstance(config.get("linux"), dict) else {}
    resources = linux.get("resources") if isinstance(linux.get("resources"), dict) else {}
    memory = resources.get("memory") if isinstance(resources.get("memory"), dict) else {}
    limit = memory.get("limit")
    if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < MEMORY_FLOOR:
        return [_warning("linux.resources.memory.limit",
                         f"{limit} bytes is below pyrunc's floor of {MEMORY_FLOOR} bytes: the "
                         "init (pyrunc until it execs the program) may be OOM-killed while it "
                         "sets up the container")]
    return []


# -- seccomp -----------------------------------------------------------------------------------

def seccomp_action_of(seccomp, name):
    """The action the profile takes on syscall `name` called with any arguments: that of the
    last unconditional rule naming it, else the default. A rule with argument conditions is
    reported as 'conditional' (the outcome depends on the arguments)."""
    action = seccomp.get("defaultAction")
    for rule in seccomp.get("syscalls") or []:
        if not isinstance(rule, dict) or name not in (rule.get("names") or []):
            continue
        if rule.get("args"):
            if rule.get("action") not in ALLOWING:
                return "conditional"
            continue
        action = rule.get("action")
    return action


def default_profile_allows(path=DEFAULT_PROFILE):
    """The syscalls the default profile allows whatever the arguments, capabilities and
    architecture (its conditional rules left out); None without the file."""
    from pyrunc import jsonio
    try:
        with open(path, "rb") as f:
            profile = jsonio.loads(f.read())
    except (OSError, ValueError):
        return None
    allowed = set()
    for rule in profile.get("syscalls") or []:
        if rule.get("action") in ALLOWING and not rule.get("args") and \
                not rule.get("includes") and not rule.get("excludes"):
            allowed.update(rule.get("names") or [])
    return allowed


def seccomp_denied_vs_default(seccomp, path=DEFAULT_PROFILE):
    """The syscalls the default profile allows and this one does not (sorted); None without
    the default profile."""
    allowed = default_profile_allows(path)
    if allowed is None:
        return None
    return sorted(n for n in allowed if seccomp_action_of(seccomp, n) not in ALLOWING)


def seccomp_denied_at_startup(seccomp):
    """[(syscall, action)] of the libc start-up calls the profile does not allow."""
    out = []
    for name in LIBC_STARTUP:
        action = seccomp_action_of(seccomp, name)
        if action not in ALLOWING:
            out.append((name, action))
    return out


def _seccomp_warnings(config):
    linux = config.get("linux") if isinstance(config.get("linux"), dict) else {}
    seccomp = linux.get("seccomp")
    if not isinstance(seccomp, dict):
        return []
    denied = seccomp_denied_at_startup(seccomp)
    if not denied:
        return []
    listed = ", ".join(f"{name} ({action})" for name, action in denied)
    first = denied[0][0]
    consequence = ("pyrunc's own execve of the program fails" if first == "execve" else
                   "the program's C library needs them before main()")
    return [_warning("linux.seccomp", f"denies {listed}: {consequence}")]
