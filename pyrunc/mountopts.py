"""Mount options of config.json turned into mount(2) flags, propagation and filesystem data.

Pure logic, unit-tested without root. Options the kernel flags do not know (mode=755, size=..,
newinstance) go to the filesystem as its data string, as runc does.
"""
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25
MNT_DETACH = 2

# option -> (clear the flag?, flag)
FLAGS = {
    "defaults": (False, 0),
    "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY),
    "nosuid": (False, MS_NOSUID), "suid": (True, MS_NOSUID),
    "nodev": (False, MS_NODEV), "dev": (True, MS_NODEV),
    "noexec": (False, MS_NOEXEC), "exec": (True, MS_NOEXEC),
    "sync": (False, MS_SYNCHRONOUS), "async": (True, MS_SYNCHRONOUS),
    "dirsync": (False, MS_DIRSYNC),
    "remount": (False, MS_REMOUNT),
    "mand": (False, MS_MANDLOCK), "nomand": (True, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME), "atime": (True, MS_NOATIME),
    "nodiratime": (False, MS_NODIRATIME), "diratime": (True, MS_NODIRATIME),
    "bind": (False, MS_BIND), "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME), "norelatime": (True, MS_RELATIME),
    "strictatime": (False, MS_STRICTATIME), "nostrictatime": (True, MS_STRICTATIME),
    "lazytime": (False, MS_LAZYTIME), "nolazytime": (True, MS_LAZYTIME),
    "nosymfollow": (False, MS_NOSYMFOLLOW), "symfollow": (True, MS_NOSYMFOLLOW),
}
PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}
# Options runc understands that change how it mounts rather than what the kernel sees.
RUNTIME_OPTIONS = ("tmpcopyup",)
# Flags that a bind mount only takes on a second, remounting call.
REMOUNT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME \
    | MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW


class MountOptions:
    """What one mount's options mean: flags, propagation flags, data string, extras."""

    __slots__ = ("flags", "cleared", "propagation", "data", "extras")

    def __init__(self, flags, cleared, propagation, data, extras):
        self.flags = flags
        self.cleared = cleared
        self.propagation = propagation
        self.data = data
        self.extras = extras

    @property
    def is_bind(self):
        return bool(self.flags & MS_BIND)


def parse_options(options):
    flags = cleared = 0
    propagation = []
    data = []
    extras = []
    for option in options:
        if option in FLAGS:
            clear, flag = FLAGS[option]
            if clear:
                flags &= ~flag
                cleared |= flag
            else:
                flags |= flag
                cleared &= ~flag
        elif option in PROPAGATION:
            propagation.append(PROPAGATION[option])
        elif option in RUNTIME_OPTIONS:
            extras.append(option)
        else:
            data.append(option)
    return MountOptions(flags, cleared, propagation, ",".join(data), extras)
