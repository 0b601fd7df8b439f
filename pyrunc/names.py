"""Tables of names used in config.json and on the command line: namespaces, capabilities,
rlimits and signals, mapped to the kernel's numbers."""
# _signal is signal.py without its enum wrappers, whose import costs ~3 ms per start.
import _signal

# namespace type -> (clone flag, /proc/<pid>/ns name)
NAMESPACES = {
    "mount": (0x00020000, "mnt"),
    "uts": (0x04000000, "uts"),
    "ipc": (0x08000000, "ipc"),
    "user": (0x10000000, "user"),
    "pid": (0x20000000, "pid"),
    "network": (0x40000000, "net"),
    "cgroup": (0x02000000, "cgroup"),
    "time": (0x00000080, "time"),
}
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER = 0x20000, 0x4000000, 0x8000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME = 0x20000000, 0x40000000, 0x2000000, 0x80

CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
CAP_NUMBERS = {name: number for number, name in enumerate(CAPABILITIES)}
CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


def cap_last_cap():
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAPABILITIES) - 1


def parse_signal(text):
    """'9', 'KILL', 'SIGKILL', 'sigkill' -> 9; raises ValueError for anything else."""
    text = str(text).strip()
    if text.isdigit():
        number = int(text)
        if 0 < number < _signal.NSIG:
            return number
        raise ValueError(f"invalid signal {text!r}")
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIGRTMIN+") or name.startswith("SIGRTMAX-"):
        base, _, offset = name.partition("+" if "+" in name else "-")
        if offset.isdigit():
            number = (_signal.SIGRTMIN + int(offset) if base == "SIGRTMIN"
                      else _signal.SIGRTMAX - int(offset))
            if _signal.SIGRTMIN <= number <= _signal.SIGRTMAX:
                return number
    number = getattr(_signal, name, None) if name.isidentifier() and "_" not in name else None
    if not isinstance(number, int):
        raise ValueError(f"invalid signal {text!r}")
    return number
