"""The hostile-rootfs generator: rootfs trees that put something unexpected at the paths pyrunc
touches (tests/integration/test_rootfs_fuzz.py runs pyrunc on them; configgen.py is its
counterpart for configs).

For every path pyrunc opens, mounts on, binds over, reads or creates in a rootfs (TOUCHED: /proc,
/sys, /dev and its entries, /dev/pts, /dev/shm, /dev/console, the mount destinations and their
parents, the masked and read-only paths, /etc/passwd, /etc/group, /etc/hosts, /etc/hostname,
the cwd and the program) a case puts one of KINDS there: a symlink (absolute, relative, to
`..`, to /proc/self/...), each aimed at the host paths an escape would reach (HostTargets), a
fifo, a socket, a device node, a regular file where a directory is expected, or a directory
where a file is.

`generate(seed, count, touched)` gives count cases; case i depends only on (seed, i), so one
case is found again by its number. A case is a Case: (path, kind, detail) mutations that
`apply(rootfs, mutations)` makes in a copy of a small base tree (`copy_base`: hard links, as
the cases only ever replace entries, never write into files), and two switches of the config:
own_dev (no tmpfs on /dev: pyrunc makes its nodes and links in the image's own /dev, where the
mutations of /dev's entries are then met) and terminal (a pty bound over /dev/console).
"""
import os
import random
import shutil
import stat
import subprocess

KINDS = ("symlink-absolute", "symlink-relative", "symlink-dotdot", "symlink-proc-self", "fifo",
         "socket", "device", "file-for-dir", "dir-for-file")

# Where an escape would land: symlinks lead there (through the rootfs's root, up and out with
# .., through /proc/self/root...). The test lists these before and after every case.
HOST_SENSITIVE = ("/etc/passwd", "/etc/group", "/etc/hosts", "/etc/hostname", "/etc",
                  "/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger", "/dev/null", "/")


def touched_paths(config):
    """{path: True for a directory, False for a file} of every rootfs path pyrunc touches for
    this config (which must have a process.cwd, args[0] an absolute program, mounts)."""
    paths = {"/proc": True, "/sys": True, "/dev": True, "/dev/pts": True, "/dev/shm": True,
             "/dev/mqueue": True, "/dev/console": False, "/dev/ptmx": False, "/dev/fd": True,
             "/etc": True, "/etc/passwd": False, "/etc/group": False, "/etc/hosts": False,
             "/etc/hostname": False}
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        paths[f"/dev/{name}"] = False
    for m in config.get("mounts", []):
        _with_parents(paths, m["destination"].rstrip("/"), True)
    linux = config.get("linux", {})
    for path in linux.get("maskedPaths", []) + linux.get("readonlyPaths", []):
        # Under /proc and /sys they are the kernel's once those are mounted; they matter in the
        # rootfs when /proc or /sys itself is what the case replaced.
        paths[path] = os.path.isdir(path) or not os.path.exists(path)
    process = config.get("process", {})
    _with_parents(paths, process.get("cwd", "/"), True)
    _with_parents(paths, process["args"][0], False)
    paths.pop("/", None)
    return dict(sorted(paths.items()))


def _with_parents(paths, path, is_dir):
    """path, and each directory above it (a symlink or a file there redirects it too)."""
    paths[path] = is_dir
    parent = os.path.dirname(path)
    while parent not in ("/", ""):
        paths.setdefault(parent, True)
        parent = os.path.dirname(parent)


class HostTargets:
    """The host paths the symlinks aim at: the system's own (HOST_SENSITIVE) and a directory
    of canaries made for the run (`canary_dir`)."""

    def __init__(self, canary_dir):
        self.canary_dir = str(canary_dir)
        self.all = HOST_SENSITIVE + (self.canary_dir, os.path.join(self.canary_dir, "file"))


def _symlink_target(rng, kind, path, targets):
    host = rng.choice(targets.all)
    depth = path.count("/")
    if kind == "symlink-absolute":
        return host
    if kind == "symlink-relative":
        return "../" * (depth + rng.randint(0, 3)) + host.lstrip("/")
    if kind == "symlink-dotdot":
        return rng.choice(("..", "../..", "../" * (depth + 2), "."))
    return rng.choice(("/proc/self/root", "/proc/self/cwd", "/proc/self/fd/3", "/proc/1/root",
                       "/proc/self/exe")) + rng.choice(("", host))


def _device(rng):
    return rng.choice((("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 5, 1), ("b", 7, 0)))


class Case:
    __slots__ = ("number", "mutations", "own_dev", "terminal")

    def __init__(self, number, mutations, own_dev, terminal):
        self.number = number
        self.mutations = mutations
        self.own_dev = own_dev
        self.terminal = terminal

    def __eq__(self, other):
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def configure(self, config):
        """The case's switches applied to the config (in place)."""
        if self.own_dev:
            config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/dev"]
        config["process"]["terminal"] = self.terminal

    def describe(self, made=None):
        switches = [name for name in ("own_dev", "terminal") if getattr(self, name)]
        return describe(self.mutations if made is None else made) + \
            (f" [{', '.join(switches)}]" if switches else "")


def generate(seed, count, touched, targets, max_mutations=3):
    """count Cases, each drawn from (seed, case number) alone."""
    paths = list(touched)
    cases = []
    for i in range(count):
        rng = random.Random(f"{seed}:{i}")
        own_dev, terminal = rng.random() < 0.5, rng.random() < 0.3
        mutations = []
        for path in rng.sample(paths, rng.randint(1, max_mutations)):
            wrong_type = "dir-for-file" if touched[path] else "file-for-dir"
            kind = rng.choice([k for k in KINDS if k != wrong_type])
            if kind.startswith("symlink"):
                detail = _symlink_target(rng, kind, path, targets)
            elif kind == "device":
                detail = _device(rng)
            elif kind == "fifo":
                detail = rng.choice((0o666, 0o777))  # an executable one passes access(X_OK)
            else:
                detail = None
            mutations.append((path, kind, detail))
        cases.append(Case(i, mutations, own_dev, terminal))
    return cases


def copy_base(base, dest):
    """A copy of the base rootfs whose files are hard links to the base's (cp -al)."""
    subprocess.run(["cp", "-al", str(base), str(dest)], check=True)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def apply(rootfs, mutations):
    """Make the mutations in rootfs; one whose parent is no directory any more (an earlier
    mutation replaced it) is skipped. Returns those made."""
    made = []
    for path, kind, detail in mutations:
        full = os.path.join(str(rootfs), path.lstrip("/"))
        parent = os.path.dirname(full)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError:
            continue
        if os.path.islink(parent) or not os.path.isdir(parent):
            continue
        _remove(full)
        if kind.startswith("symlink"):
            os.symlink(detail, full)
        elif kind == "fifo":
            os.mkfifo(full)
            os.chmod(full, detail)
        elif kind == "socket":
            os.mknod(full, stat.S_IFSOCK | 0o666)
        elif kind == "device":
            kind_bit = stat.S_IFCHR if detail[0] == "c" else stat.S_IFBLK
            os.mknod(full, kind_bit | 0o666, os.makedev(detail[1], detail[2]))
        elif kind == "file-for-dir":
            with open(full, "w") as f:
                f.write("a file where a directory was expected\n")
        else:  # dir-for-file
            os.makedirs(os.path.join(full, "sub"))
        made.append((path, kind, detail))
    return made


def describe(mutations):
    return "; ".join(f"{path} <- {kind}" + (f" {detail!r}" if detail else "")
                     for path, kind, detail in mutations)
