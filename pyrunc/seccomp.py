"""linux.seccomp: validation of the profile, and loading it through libseccomp (native/)."""
import errno as errno_mod
import os

from pyrunc import SPEC_VERSION, jsonio
from pyrunc.errors import ConfigError

ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": None,     # needs errnoRet
    "SCMP_ACT_TRACE": None,     # needs errnoRet (the trace message)
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
OPERATORS = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
}
# SECCOMP_FILTER_FLAG_* -> libseccomp filter attribute
FLAG_ATTRS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 4,
    "SECCOMP_FILTER_FLAG_LOG": 6,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 7,
}
# Flags whose libseccomp attribute came later (SCMP_FLTATR_CTL_WAITKILL: libseccomp 2.6): known
# to pyrunc, applied where this host's libseccomp takes the attribute, refused by name elsewhere.
LATER_FLAG_ATTRS = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 10}
ATTR_CTL_NNP = 3
# SCMP_ARCH_<NAME> of config.json, as libseccomp's resolver spells them (lowercase).
ARCHS = ("x86", "x86_64", "x32", "arm", "aarch64", "mips", "mips64", "mips64n32", "mipsel",
         "mipsel64", "mipsel64n32", "ppc", "ppc64", "ppc64le", "s390", "s390x", "parisc",
         "parisc64", "riscv64", "loongarch64", "m68k", "sh", "sheb")


def validate_seccomp(seccomp):
    field = "linux.seccomp"
    if seccomp.get("defaultAction") == "SCMP_ACT_NOTIFY":
        raise ConfigError(f"{field}.defaultAction", "SCMP_ACT_NOTIFY as the default would "
                          "send every syscall to the agent, the runtime's own included")
    _action(seccomp.get("defaultAction"), seccomp.get("defaultErrnoRet"), f"{field}.defaultAction")
    listener = seccomp.get("listenerPath")
    if listener is not None and (not isinstance(listener, str) or not listener.startswith("/")):
        raise ConfigError(f"{field}.listenerPath", "must be an absolute path")
    if seccomp.get("listenerMetadata") is not None and \
            not isinstance(seccomp["listenerMetadata"], str):
        raise ConfigError(f"{field}.listenerMetadata", "must be a string")
    if uses_notify(seccomp) and not listener:
        raise ConfigError(f"{field}.listenerPath", "SCMP_ACT_NOTIFY needs a listener socket")
    for flag in seccomp.get("flags") or []:
        if flag in FLAG_ATTRS:
            continue
        if flag not in LATER_FLAG_ATTRS:
            raise ConfigError(f"{field}.flags", f"unknown or unsupported flag {flag!r}")
        if flag not in supported_flags():
            raise ConfigError(f"{field}.flags", f"{flag}: this host's libseccomp cannot set it "
                              "(it needs libseccomp 2.6's SCMP_FLTATR_CTL_WAITKILL)")
    for i, arch in enumerate(seccomp.get("architectures") or []):
        if not isinstance(arch, str) or not arch.startswith("SCMP_ARCH_") or \
                arch[len("SCMP_ARCH_"):].lower() not in ARCHS:
            raise ConfigError(f"{field}.architectures[{i}]", f"unknown architecture {arch!r}")
    for i, rule in enumerate(seccomp.get("syscalls") or []):
        where = f"{field}.syscalls[{i}]"
        if not isinstance(rule.get("names"), list) or not rule["names"]:
            raise ConfigError(f"{where}.names", "must list at least one syscall")
        _action(rule.get("action"), rule.get("errnoRet"), f"{where}.action")
        for j, arg in enumerate(rule.get("args") or []):
            if arg.get("op") not in OPERATORS:
                raise ConfigError(f"{where}.args[{j}].op", f"unknown operator {arg.get('op')!r}")
            if not isinstance(arg.get("index"), int) or not 0 <= arg["index"] < 6:
                raise ConfigError(f"{where}.args[{j}].index", "must be 0 to 5")


_supported = None


def supported_flags():
    """{flag: libseccomp attribute} of the flags this host's libseccomp can set (asked once:
    setting a later attribute on a scratch filter)."""
    global _supported
    if _supported is None:
        from pyrunc import native
        found = dict(FLAG_ATTRS)
        for flag, attr in LATER_FLAG_ATTRS.items():
            flt = native.SeccompFilter(ACTIONS["SCMP_ACT_ALLOW"])
            try:
                flt.set_attr(attr, 1)
                found[flag] = attr
            except OSError:
                pass
            finally:
                flt.release()
        _supported = found
    return _supported


def uses_notify(seccomp):
    return any(isinstance(r, dict) and r.get("action") == "SCMP_ACT_NOTIFY"
               for r in seccomp.get("syscalls") or [])


def _action(name, errno_ret, field):
    if name not in ACTIONS:
        raise ConfigError(field, f"unknown action {name!r}")
    if name == "SCMP_ACT_ERRNO":
        from pyrunc import native
        return native.seccomp_action_errno(errno_mod.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        from pyrunc import native
        return native.seccomp_action_trace(errno_mod.EPERM if errno_ret is None else errno_ret)
    return ACTIONS[name]


def load(seccomp, listener=None):
    """Build the filter and load it into this process. With SCMP_ACT_NOTIFY rules, the
    listener (a connected unix socket and the state to send) gets the notify fd."""
    from pyrunc import native

    default = _action(seccomp.get("defaultAction"), seccomp.get("defaultErrnoRet"), "defaultAction")
    flt = native.SeccompFilter(default)
    try:
        flt.set_attr(ATTR_CTL_NNP, 0)  # no_new_privs is process.noNewPrivileges' business
        for arch in seccomp.get("architectures") or []:
            flt.add_arch(arch[len("SCMP_ARCH_"):].lower())
        for flag in seccomp.get("flags") or []:
            flt.set_attr(FLAG_ATTRS.get(flag) or supported_flags()[flag], 1)
        for rule in seccomp.get("syscalls") or []:
            action = _action(rule["action"], rule.get("errnoRet"), "action")
            if action == default:
                continue  # libseccomp refuses rules that repeat the default
            args = [(a["index"], OPERATORS[a["op"]], a.get("value", 0), a.get("valueTwo", 0))
                    for a in rule.get("args") or []]
            indexes = [a[0] for a in args]
            # libseccomp wants each argument once per rule: split repeated ones (as runc).
            groups = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
            for name in rule["names"]:
                if not native.seccomp_syscall_known(name):
                    continue  # a syscall this libseccomp does not know: skipped, as runc does
                for group in groups:
                    flt.add_rule(action, name, group)
        flt.load()
        if listener is not None and uses_notify(seccomp):
            notify_fd = flt.notify_fd()
            try:
                listener.send(notify_fd)
            finally:
                os.close(notify_fd)
    finally:
        flt.release()


class Listener:
    """The seccomp agent's socket (linux.seccomp.listenerPath), connected before pivot_root
    while the path is still reachable; it receives the process state and the notify fd once,
    as config-linux.md says, and is closed."""

    def __init__(self, seccomp):
        import _socket
        self.metadata = seccomp.get("listenerMetadata") or ""
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.sock.connect(seccomp["listenerPath"])
        self.state = {}

    def send(self, notify_fd):
        import _socket
        import struct
        message = {"ociVersion": SPEC_VERSION, "fds": ["seccompFd"], "pid": self.state.get("pid", 0),
                   "metadata": self.metadata, "state": self.state}
        try:
            self.sock.sendmsg([jsonio.dumps(message).encode()],
                              [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                struct.pack("i", notify_fd))])
        finally:
            self.sock.close()
