"""Checkpoint and restore, the pure part: runc's checkpoint/restore flags checked and turned into
CRIU's command line, from plain facts about the container (gathered by pyrunc.checkpoint from
/proc and the config). No I/O here, so every rule is unit-tested without root or CRIU.

What CRIU cannot find inside the container's own namespaces is named to it as external, with a
key, on dump; restore hands it the replacement under the same key:

- bind mounts of the config: `--external mnt[<mount point>]:<mount point>` on dump (the mount
  point as the kernel resolved it, symlinks followed), `--external mnt[<key>]:<host source>` on
  restore, from the restore bundle's config;
- the init's stdio that is not in the container: a file on a host mount as `file[mnt_id:inode]`
  (hex, as CRIU prints them), a pipe as `pipe:[inode]` (CRIU dumps pipes itself), a pty as
  `tty[rdev:dev]`; restore passes its own stdio (or a new pty) with --inherit-fd;
- a joined network namespace: `--external net[inode]:extnet`, and on restore an fd of the
  namespace to join.
"""
from pyrunc.errors import UsageError

MANAGE_CGROUPS_MODES = ("soft", "full", "strict", "ignore")
# runc's --empty-ns takes a namespace name; CRIU can leave only the network one empty.
EMPTY_NS = {"network": "net"}
NET_KEY = "extnet"
# Written next to CRIU's images: what restore must know about the dumped init's stdio.
DESCRIPTORS = "descriptors.json"
LOG_NAMES = {"dump": "dump.log", "pre-dump": "pre-dump.log", "restore": "restore.log"}

# Flags both verbs pass to CRIU as they are: runc's name -> CRIU's.
_SHARED_FLAGS = (("tcp_established", "--tcp-established"), ("ext_unix_sk", "--ext-unix-sk"),
                 ("shell_job", "--shell-job"), ("file_locks", "--file-locks"))

# What pyrunc refuses by name, and why (CRIU has them, pyrunc does not drive them yet).
_REFUSED = {
    "lazy_pages": "--lazy-pages: not supported by pyrunc (it needs CRIU's page server and a "
                  "lazy-pages daemon on the restoring side)",
    "status_fd": "--status-fd: not supported by pyrunc (it only reports a lazy-pages server, "
                 "and --lazy-pages is not supported)",
    "page_server": "--page-server: not supported by pyrunc (images are written locally)",
}


def check_options(o, verb):
    """The options of `checkpoint` or `restore` (a dict from the CLI) checked: returns the
    CRIU manage-cgroups mode and the CRIU names of the empty namespaces. Raises UsageError
    naming the flag."""
    for key, why in _REFUSED.items():
        if o.get(key):
            raise UsageError(f"{verb}: {why}")
    mode = o.get("manage_cgroups_mode") or "soft"
    if mode not in MANAGE_CGROUPS_MODES:
        raise UsageError(f"--manage-cgroups-mode: {mode!r} is not one of "
                         f"{', '.join(MANAGE_CGROUPS_MODES)}")
    empty = []
    for name in o.get("empty_ns") or ():
        if name not in EMPTY_NS:
            raise UsageError(f"--empty-ns: {name!r}: CRIU can leave only the network "
                             "namespace empty")
        empty.append(EMPTY_NS[name])
    return mode, empty


def _common(o, mode, empty, verb):
    args = [verb, "--images-dir", o["image_path"], "--work-dir", o["work_path"],
            "--log-file", LOG_NAMES[verb], "-v4", f"--manage-cgroups={mode}"]
    for key, flag in _SHARED_FLAGS:
        if o.get(key):
            args.append(flag)
    for ns in empty:
        args += ["--empty-ns", ns]
    return args


def dump_args(o, facts):
    """criu's arguments for `checkpoint`. facts: {"pid", "mount_keys": [mount point...],
    "descriptors": [descriptor...] (see descriptor()), "net_inode": int or None,
    "freeze_cgroup": path or None}."""
    mode, empty = check_options(o, "checkpoint")
    verb = "pre-dump" if o.get("pre_dump") else "dump"
    args = _common(o, mode, empty, verb)
    args[1:1] = ["--tree", str(facts["pid"])]
    if o.get("parent_path"):
        args += ["--prev-images-dir", o["parent_path"]]
    if o.get("pre_dump") or o.get("parent_path"):
        args.append("--track-mem")  # memory changes since the pre-dump: the parent's images
    if o.get("leave_running") and verb == "dump":
        args.append("--leave-running")
    if facts.get("freeze_cgroup"):
        args += ["--freeze-cgroup", facts["freeze_cgroup"]]
    for key in facts.get("mount_keys", ()):
        args += ["--external", f"mnt[{key}]:{key}"]
    for d in facts.get("descriptors", ()):
        if d["external"]:
            args += ["--external", d["key"]]
    if facts.get("net_inode") is not None:
        args += ["--external", f"net[{facts['net_inode']}]:{NET_KEY}"]
    return args


def restore_args(o, facts):
    """criu's arguments for `restore`. facts: {"rootfs", "pidfile", "mounts": [(key, host
    source)...], "inherit": [(fd, key)...], "cgroup_roots": [(controllers or "", path in the
    hierarchy)...]}; the inherited fds are open in CRIU under those numbers."""
    mode, empty = check_options(o, "restore")
    args = _common(o, mode, empty, "restore")
    args += ["--restore-detached", "--root", facts["rootfs"], "--pidfile", facts["pidfile"]]
    if mode != "ignore":
        # The container's cgroup takes the place of the dumped one: a restored container may
        # sit elsewhere (another cgroupsPath, another id).
        for controllers, path in facts.get("cgroup_roots", ()):
            args += ["--cgroup-root", f"{controllers}:{path}" if controllers else path]
    for key, source in facts.get("mounts", ()):
        args += ["--external", f"mnt[{key}]:{source}"]
    for fd, key in facts.get("inherit", ()):
        args += ["--inherit-fd", f"fd[{fd}]:{key}"]
    return args


def descriptor(fd, link, mnt_id, inode, rdev, dev, mode, flags, is_tty, in_container):
    """What restore must know of one of the init's stdio fds: its /proc link, its file's mode
    and open flags, whether CRIU must be told it is external on dump, and the key restore
    hands a replacement under (None: CRIU restores it itself)."""
    if is_tty:
        key, external = f"tty[{rdev:x}:{dev:x}]", True
    elif link.startswith("pipe:"):
        key, external = link, False  # CRIU dumps the pipe; restore may replace it
    elif link.startswith("/") and not in_container:
        key, external = f"file[{mnt_id:x}:{inode:x}]", True
    else:
        key, external = None, False  # in the container's mounts, a socket, an anon inode
    return {"fd": fd, "link": link, "key": key, "external": external, "tty": is_tty,
            "mode": mode, "flags": flags}


def inherit_list(descriptors, replacements):
    """[(fd, key)] for restore: each key once (the first fd that had it), handed the fd
    replacements[fd] of the dumped one (absent or None: CRIU restores it from the images)."""
    seen = set()
    out = []
    for d in descriptors:
        if not d.get("key") or d["key"] in seen:
            continue
        seen.add(d["key"])
        if replacements.get(d["fd"]) is not None:
            out.append((replacements[d["fd"]], d["key"]))
    return out


def cgroup_roots(paths, mountpoints):
    """[(controllers, path inside the hierarchy)] for --cgroup-root, from the container's
    cgroup directories {key: absolute dir} and the hierarchies' mount points {key: dir}
    (key "" is the unified hierarchy, which CRIU takes as the default root)."""
    out = []
    for key, directory in paths.items():
        top = mountpoints.get(key)
        if top is None or not (directory == top or directory.startswith(top.rstrip("/") + "/")):
            continue
        out.append((key, "/" + directory[len(top):].strip("/")))
    # The default (no controller) last: explicit controllers are CRIU's exceptions to it.
    return sorted(out, key=lambda kv: kv[0] == "")


def last_error(log_text):
    """CRIU's reason in one line: the first "Error (file:line): ..." of its log that is not a
    probe of an optional feature (tun), without the source position; the last line of the log
    when it holds no error."""
    errors = []
    last = ""
    for line in log_text.splitlines():
        line = line.strip()
        if not line:
            continue
        last = line
        # "(00.123456)     27: Error (criu/files.c:1213): Unable to open fd=1 id=0x3": the
        # time and the pid are there at -v4, neither in `criu check`'s output.
        at = line.find("Error (")
        if at >= 0 and "): " in line[at:]:
            errors.append(line[at:].split("): ", 1)[1].strip())
    reasons = [e for e in errors if not e.startswith(("tun:", "Dumping FAILED",
                                                     "Restoring FAILED"))]
    if reasons:
        # The first real error is the cause; the ones after it say what it broke.
        return reasons[0]
    return errors[-1] if errors else last
