"""The config fuzzer's generator, shared by the parser fuzz tests (tests/unit/test_config_fuzz.py)
and the differential harness (tests/differential/harness.py, scripts/differential).

A generated config is the default spec (`pyrunc spec`, terminal off) changed by a few edits.
An edit is ("set", path, value) or ("delete", path) or ("append", path, value), a path being a
tuple of dict keys and list indexes. Two kinds are drawn:

- anywhere: any JSON value at any existing path of the default config (the parser fuzzer's
  original strategy: mostly values of the wrong type or out of range);
- plausible: a value a real config could hold for a field the differential probe can see
  (ids, capabilities, rlimits, umask, cwd, env, hostname, masked and read-only paths, sysctls,
  namespaces, mounts, devices, seccomp, resources), including some that should be refused.

`generate(seed, count)` draws count configs reproducibly: hypothesis, seeded, no example
database, generation phase only, so the same seed and hypothesis version give the same configs
(config N of a run is found again by regenerating with the same seed and count >= N).
"""
import copy

from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings, strategies as st

from pyrunc.spec import default_spec

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def paths(obj, prefix=()):
    """Every path into a nested config: dict keys and list indexes."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, prefix + (i,))


def base_config():
    """The config every generated one starts from: the default spec, no terminal."""
    config = default_spec()
    config["process"]["terminal"] = False
    return config


BASE = base_config()
ALL_PATHS = [p for p in paths(BASE) if p]


def set_path(obj, path, value):
    """Set obj[path] = value; missing dicts on the way are made (a list index must exist)."""
    for part in path[:-1]:
        if isinstance(obj, dict) and not isinstance(obj.get(part), (dict, list)):
            obj[part] = {}
        obj = obj[part]
    obj[path[-1]] = value


def apply_edits(config, edits):
    """Apply edits (see the module docstring) to config in place; an edit whose path no longer
    exists (an earlier edit replaced its parent) is skipped. Returns config."""
    for edit in edits:
        op, path = edit[0], edit[1]
        try:
            if op == "set":
                set_path(config, path, copy.deepcopy(edit[2]))
            elif op == "delete":
                parent = config
                for part in path[:-1]:
                    parent = parent[part]
                del parent[path[-1]]
            elif op == "append":
                parent = config
                for part in path:
                    if isinstance(parent, dict) and part not in parent:
                        parent[part] = []
                    parent = parent[part]
                parent.append(copy.deepcopy(edit[2]))
        except (KeyError, IndexError, TypeError):
            continue
    return config


def describe(edits):
    """One line per edit, for reports: `set process.user.uid = 1000`."""
    def where(path):
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    out = []
    for edit in edits:
        value = "" if edit[0] == "delete" else f" = {edit[2]!r}"
        out.append(f"{edit[0]} {where(edit[1])}{value}")
    return out


# -- the anywhere edits: the parser fuzzer's strategy -----------------------------------------

ANYWHERE = st.tuples(st.just("set"), st.sampled_from(ALL_PATHS), JSON_VALUES)


# -- the plausible edits --------------------------------------------------------------------

CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE",
        "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_BPF", "CAP_PERFMON",
        "CAP_CHECKPOINT_RESTORE", "CAP_SYS_RESOURCE", "CAP_NO_SUCH"]
CAP_SETS = ["bounding", "effective", "permitted", "inheritable", "ambient"]
RLIMITS = ["RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_STACK", "RLIMIT_MEMLOCK",
           "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_CPU", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
           "RLIMIT_RTPRIO", "RLIMIT_SIGPENDING", "RLIMIT_DATA", "RLIMIT_LOCKS"]
RLIMIT_VALUES = [0, 1, 64, 1024, 4096, 20000, 65536, 1048576, 2**63 - 1, 2**64 - 1]
IDS = [0, 1, 5, 1000, 65534, 2**31 - 1]
PATHS = ["/proc/kcore", "/proc/keys", "/proc/sys", "/proc/sysrq-trigger", "/proc/self",
         "/sys/kernel", "/sys/firmware", "/etc/hostname", "/etc", "/tmp", "/bin", "/dev/shm",
         "/nonexistent", "/proc/timer_list", "/proc/scsi"]
# Namespaced sysctls (and two that are not, or are not in any namespace the config has).
SYSCTLS = {"kernel.shmmax": ["65536", "4294967296"], "kernel.msgmax": ["4096", "x"],
           "kernel.sem": ["250 32000 32 128"], "fs.mqueue.msg_max": ["20", "5"],
           "net.ipv4.ip_forward": ["1", "0"], "net.core.somaxconn": ["100", "4096"],
           "net.ipv4.ping_group_range": ["0 2147483647"], "kernel.domainname": ["sysctl.dom"],
           "kernel.hostname": ["sysctl-host"], "vm.swappiness": ["10"],
           "kernel.shm_rmid_forced": ["1"], "net.ipv4.conf.all.forwarding": ["1"]}
NAMESPACES = ["pid", "network", "ipc", "uts", "mount", "cgroup"]
MOUNTS = [
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "noexec"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
     "options": ["nodev", "mode=700", "uid=1000"]},
    {"destination": "/mnt/data", "type": "bind", "source": "data", "options": ["rbind", "ro"]},
    {"destination": "/mnt/data", "type": "none", "source": "data", "options": ["bind"]},
    {"destination": "/mnt/data", "source": "data", "options": ["rbind", "nosuid", "nodev"]},
    {"destination": "/etc/hostname", "type": "bind", "source": "data/hostname",
     "options": ["bind", "ro"]},
    {"destination": "/mnt/new/deep", "type": "tmpfs", "source": "tmpfs"},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["ro", "size=1m"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "rw"]},
    {"destination": "/mnt/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
    {"destination": "/mnt/proc", "type": "proc", "source": "proc"},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["rprivate"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["bogus-option"]},
    {"destination": "/mnt/data", "type": "bind", "source": "/nonexistent", "options": ["bind"]},
    {"destination": "relative", "type": "tmpfs", "source": "tmpfs"},
]
DEVICES = [
    {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666,
     "uid": 0, "gid": 0},
    {"path": "/dev/pyrunc-blk", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600},
    {"path": "/dev/pyrunc-fifo", "type": "p"},
    {"path": "/dev/null", "type": "c", "major": 1, "minor": 3},
    {"path": "/dev/sub/dir/zero", "type": "c", "major": 1, "minor": 5, "uid": 1000, "gid": 5},
]
SECCOMP = [
    {"defaultAction": "SCMP_ACT_ALLOW",
     "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]},
    {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
     "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []},
    {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]},
    {"defaultAction": "SCMP_ACT_ALLOW",
     "syscalls": [{"names": ["no_such_syscall"], "action": "SCMP_ACT_KILL"}]},
]
RESOURCES = [
    {"memory": {"limit": 268435456}}, {"memory": {"limit": 268435456, "swap": 268435456}},
    {"pids": {"limit": 64}}, {"cpu": {"shares": 512, "quota": 50000, "period": 100000}},
    {"cpu": {"cpus": "0", "mems": "0"}}, {"memory": {"reservation": 1048576, "swappiness": 10}},
    {"devices": [{"allow": False, "access": "rwm"},
                 {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]},
]


def _subset(items):
    return st.lists(st.sampled_from(items), unique=True, max_size=6)


def _rlimit_entry(kind, soft, hard):
    if kind == "RLIMIT_CPU":
        # A CPU limit of a second or less kills the process at a moment that depends on the
        # machine's load: no two runs would agree on what it printed.
        soft, hard = max(soft, 64), max(hard, 64)
    return {"type": kind, "soft": soft, "hard": hard}


def _rlimit():
    return st.builds(_rlimit_entry, st.sampled_from(RLIMITS), st.sampled_from(RLIMIT_VALUES),
                     st.sampled_from(RLIMIT_VALUES))


def _set(path, values):
    return st.tuples(st.just("set"), st.just(path), values)


def _ns_edit():
    """Drop one namespace of the default list, or add a new user or time namespace."""
    return st.one_of(
        st.builds(lambda kept: ("set", ("linux", "namespaces"), [{"type": t} for t in kept]),
                  st.lists(st.sampled_from(NAMESPACES), unique=True, min_size=4, max_size=6)),
        st.tuples(st.just("append"), st.just(("linux", "namespaces")),
                  st.sampled_from([{"type": "time"}, {"type": "user"},
                                   {"type": "network", "path": "/proc/1/ns/net"},
                                   {"type": "uts", "path": "/proc/1/ns/uts"}])))


PLAUSIBLE = st.one_of(
    _set(("process", "user", "uid"), st.sampled_from(IDS)),
    _set(("process", "user", "gid"), st.sampled_from(IDS)),
    _set(("process", "user", "additionalGids"), st.lists(st.sampled_from(IDS), max_size=3)),
    _set(("process", "user", "umask"), st.sampled_from([0, 0o22, 0o27, 0o77, 0o777, 0o7777])),
    st.builds(lambda which, caps: ("set", ("process", "capabilities", which), caps),
              st.sampled_from(CAP_SETS), _subset(CAPS)),
    _set(("process", "noNewPrivileges"), st.booleans()),
    _set(("process", "rlimits"), st.lists(_rlimit(), max_size=3)),
    _set(("process", "oomScoreAdj"), st.sampled_from([-1000, -1, 0, 1, 500, 1000])),
    _set(("process", "cwd"), st.sampled_from(["/", "/tmp", "/bin", "/etc/passwd", "/nonexistent",
                                              "/proc/self/cwd", "relative"])),
    _set(("process", "env"), st.lists(st.sampled_from(
        ["PATH=/bin", "HOME=/tmp", "A=1", "A=2", "EMPTY=", "=x", "noequals", "TERM=dumb",
         "LANG=C.UTF-8", "X=with space"]), max_size=4)),
    _set(("hostname",), st.sampled_from(["pyrunc", "a", "h" * 64, "h" * 65, "", "host.example",
                                         "UPPER", "tab\there"])),
    _set(("domainname",), st.sampled_from(["example.org", "", "d" * 64, "d" * 65])),
    _set(("linux", "maskedPaths"), _subset(PATHS)),
    _set(("linux", "readonlyPaths"), _subset(PATHS)),
    st.builds(lambda k, v: ("set", ("linux", "sysctl", k), v),
              st.sampled_from(sorted(SYSCTLS)), st.sampled_from(sorted(
                  {v for vs in SYSCTLS.values() for v in vs}))),
    _ns_edit(),
    st.tuples(st.just("append"), st.just(("mounts",)), st.sampled_from(MOUNTS)),
    st.tuples(st.just("delete"), st.builds(lambda i: ("mounts", i), st.integers(0, 6))),
    _set(("root", "readonly"), st.booleans()),
    st.tuples(st.just("append"), st.just(("linux", "devices")), st.sampled_from(DEVICES)),
    _set(("linux", "seccomp"), st.sampled_from(SECCOMP)),
    _set(("linux", "resources"), st.sampled_from(RESOURCES)),
    _set(("linux", "rootfsPropagation"), st.sampled_from(["private", "rslave", "shared",
                                                          "unbindable", "bogus"])),
    _set(("annotations",), st.sampled_from([{"org.example": "1"}, {"a": "b", "c": ""}])),
    _set(("process", "args"), st.sampled_from([["/no/such/program"], ["/etc/passwd"],
                                               ["/probe", "extra", "args"]])),
)

EDIT = st.one_of(ANYWHERE, PLAUSIBLE)
EDITS = st.lists(EDIT, min_size=1, max_size=3)


def generate(seed, count, base=None, edits=EDITS):
    """count [(config, edits)] drawn reproducibly for seed, each config a deep copy of base
    (default: base_config()) with its edits applied."""
    base = base_config() if base is None else base
    drawn = []

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @hyp_seed(seed)
    @given(edits)
    def collect(example):
        if len(drawn) < count:
            drawn.append(example)

    collect()
    return [(apply_edits(copy.deepcopy(base), e), e) for e in drawn]
