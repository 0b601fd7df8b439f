"""Mount options of config.json turned into mount(2) flags, propagation and filesystem data.

Pure logic, unit-tested without root. Options the kernel flags do not know (mode=755, size=..,
newinstance) go to the filesystem as its data string, as runc does. The recursive options
(rro, rnosuid...) and idmap/ridmap become mount_setattr(2) attributes; refusal() says which
option a mount cannot apply, and why, so that none is ever dropped silently.
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

# mount_setattr(2) attributes (linux/mount.h). The atime ones are values of one field
# (MOUNT_ATTR__ATIME), not bits: setting one means clearing the whole field too.
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

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
# The recursive options runc 1.2 documents: applied to the mount and every mount under it
# (an rbind's submounts) with mount_setattr(AT_RECURSIVE). option -> (attributes set,
# attributes cleared). An atime option names the whole atime setting: the ones that only say
# "not X" (ratime, rnostrictatime) end at the kernel's default, relatime; rnorelatime at
# strictatime, the one left that updates access times.
_ATIME = MOUNT_ATTR__ATIME
RECURSIVE = {
    "rro": (MOUNT_ATTR_RDONLY, 0), "rrw": (0, MOUNT_ATTR_RDONLY),
    "rnosuid": (MOUNT_ATTR_NOSUID, 0), "rsuid": (0, MOUNT_ATTR_NOSUID),
    "rnodev": (MOUNT_ATTR_NODEV, 0), "rdev": (0, MOUNT_ATTR_NODEV),
    "rnoexec": (MOUNT_ATTR_NOEXEC, 0), "rexec": (0, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, MOUNT_ATTR_NOSYMFOLLOW),
    "rnoatime": (MOUNT_ATTR_NOATIME, _ATIME), "ratime": (MOUNT_ATTR_RELATIME, _ATIME),
    "rrelatime": (MOUNT_ATTR_RELATIME, _ATIME), "rnorelatime": (MOUNT_ATTR_STRICTATIME, _ATIME),
    "rstrictatime": (MOUNT_ATTR_STRICTATIME, _ATIME),
    "rnostrictatime": (MOUNT_ATTR_RELATIME, _ATIME),
}
# Id-mapped mounts (runtime-spec 1.2): option -> the mapping reaches the submounts too.
IDMAP = {"idmap": False, "ridmap": True}
# Options runc understands that change how it mounts rather than what the kernel sees.
RUNTIME_OPTIONS = ("tmpcopyup",)
# Flags of the superblock, not of the mount: a bind shares its source's superblock.
SUPERBLOCK = ("sync", "async", "dirsync", "mand", "nomand", "lazytime", "nolazytime")
# Flags that a bind mount only takes on a second, remounting call.
REMOUNT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME \
    | MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW


class MountOptions:
    """What one mount's options mean: flags, propagation flags, data string, extras."""

    __slots__ = ("flags", "cleared", "propagation", "data", "extras", "attr_set", "attr_clr",
                 "idmap")

    def __init__(self, flags, cleared, propagation, data, extras, attr_set=0, attr_clr=0,
                 idmap=None):
        self.flags = flags
        self.cleared = cleared
        self.propagation = propagation
        self.data = data
        self.extras = extras
        # The recursive options, as mount_setattr's attr_set and attr_clr.
        self.attr_set = attr_set
        self.attr_clr = attr_clr
        self.idmap = idmap  # None, "idmap" or "ridmap" (the last one given)

    @property
    def recursive(self):
        """Whether any recursive option is given (they may cancel out: still applied)."""
        return bool(self.attr_set or self.attr_clr)

    @property
    def is_bind(self):
        return bool(self.flags & MS_BIND)


def parse_options(options):
    flags = cleared = 0
    propagation = []
    data = []
    extras = []
    attr_set = attr_clr = 0
    idmap = None
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
        elif option in RECURSIVE:
            attr_set, attr_clr = _combine(attr_set, attr_clr, *RECURSIVE[option])
        elif option in IDMAP:
            idmap = option
        elif option in RUNTIME_OPTIONS:
            extras.append(option)
        else:
            data.append(option)
    return MountOptions(flags, cleared, propagation, ",".join(data), extras, attr_set,
                        attr_clr, idmap)


def _combine(attr_set, attr_clr, add_set, add_clr):
    """One more recursive option over the ones before it: the later one wins."""
    if add_clr & _ATIME:  # a new atime setting replaces the previous one
        attr_set &= ~_ATIME
    attr_set = (attr_set & ~add_clr) | add_set
    attr_clr = (attr_clr & ~add_set) | add_clr
    return attr_set, attr_clr


# Where an id-mapped mount can be made: a bind (of a filesystem that allows it) and a tmpfs,
# whose superblock belongs to no namespace. proc, sysfs, mqueue or devpts made by the runtime
# outside the container's namespaces would show the host's.
IDMAP_KINDS = ("bind", "tmpfs")


def refusal(options, kind, is_bind):
    """(option, why) of the first option this mount cannot apply, or None. kind: the mount's
    type ("bind" for any bind mount)."""
    seen_idmap = None
    for option in options:
        if option in IDMAP:
            if kind not in IDMAP_KINDS:
                return option, (f"pyrunc makes id-mapped bind and tmpfs mounts only, not "
                                f"{kind or 'this type'} (made outside the container, it could "
                                "show the host's)")
            if seen_idmap and seen_idmap != option:
                return option, f"given with {seen_idmap}: one or the other"
            seen_idmap = option
        if not is_bind:
            continue
        if option in SUPERBLOCK:
            return option, ("a flag of the filesystem's superblock, which a bind mount shares "
                            "with its source and cannot change")
        if option == "remount":
            return option, "a bind mount is made, not remounted (pyrunc remounts it itself "                            "to apply its flags)"
        if option in RUNTIME_OPTIONS:
            return option, "copies the directory's contents into a new tmpfs; a bind mount "                            "makes none"
        if option not in FLAGS and option not in PROPAGATION and option not in RECURSIVE \
                and option not in IDMAP:
            return option, ("a filesystem option, and a bind mount makes no filesystem to give "
                            "it to (runc passes it to mount(2), which ignores it)")
    if seen_idmap and "tmpcopyup" in options:
        return "tmpcopyup", f"not with {seen_idmap}: pyrunc does not copy up into an " \
                            "id-mapped tmpfs"
    return None
