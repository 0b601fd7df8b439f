"""Loading and validating a bundle's config (config.json, or a hand-written config.yaml).

Validation runs in the parent before anything is made, so bad input fails fast with the field
named and nothing to clean up. Unknown properties are ignored (the runtime spec requires it);
known properties pyrunc does not implement yet are refused, never silently dropped.
"""
import os

from pyrunc import jsonio, lsm, names
from pyrunc.errors import ConfigError

PROPAGATIONS = ("shared", "slave", "private", "unbindable",
                "rshared", "rslave", "rprivate", "runbindable")
DEVICE_TYPES = ("c", "b", "u", "p")
# sysctl prefixes that belong to a namespace, and the namespace they need (as runc checks).
SYSCTL_IPC = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
              "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
# Fields pyrunc knows but does not implement yet, refused with their reason: none at the moment
# (netDevices and execCPUAffinity were the last).
UNSUPPORTED = {}


def load_bundle_config(bundle):
    """Read <bundle>/config.json (or config.yaml when there is no config.json) into a dict."""
    json_path = os.path.join(bundle, "config.json")
    yaml_path = os.path.join(bundle, "config.yaml")
    if not os.path.isdir(bundle):
        raise ConfigError("bundle", f"{bundle}: no such directory")
    try:
        with open(json_path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        if os.path.exists(yaml_path):
            return _load_yaml(yaml_path)
        raise ConfigError("config.json", f"not found in bundle {bundle}") from None
    if os.path.exists(yaml_path):
        from pyrunc import log
        log.warning(f"{bundle} has both config.json and config.yaml: using config.json")
    try:
        config = jsonio.loads(raw)
    except ValueError as e:
        raise ConfigError("config.json", f"invalid JSON: {e}") from None
    if not isinstance(config, dict):
        raise ConfigError("config.json", "must hold a JSON object")
    return config


def _load_yaml(path):
    import yaml  # only hand-written YAML bundles pay for this import

    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError("config.yaml", f"invalid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(config, dict):
        raise ConfigError("config.yaml", "must hold a mapping")
    return config


# -- small typed getters: each names the field it complains about --------------------------------

def _get(obj, key, kind, field, default=None, required=False):
    value = obj.get(key, default) if isinstance(obj, dict) else default
    if value is None:
        if required:
            raise ConfigError(field, "is required")
        return default
    if kind is int and isinstance(value, bool):
        raise ConfigError(field, "must be an integer")
    if not isinstance(value, kind):
        expected = {dict: "an object", list: "an array", str: "a string", int: "an integer",
                    bool: "a boolean"}.get(kind, kind.__name__)
        raise ConfigError(field, f"must be {expected}")
    return value


def _string_list(obj, key, field):
    values = _get(obj, key, list, field, [])
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise ConfigError(f"{field}[{i}]", "must be a string")
    return values


def _abs_path(value, field):
    if not value.startswith("/"):
        raise ConfigError(field, f"{value!r} must be an absolute path")
    if ".." in value.split("/"):
        raise ConfigError(field, f"{value!r} escapes the container root ('..' is not allowed)")
    return value


RLIM_MAX = 2**64 - 1  # "unlimited" as config.json writes it (RLIM_INFINITY)
SUPPORTED_OCI_MAJOR = 1
OCI_VERSION_MIN = "1.0.0"
OCI_VERSION_MAX = "1.2.1"
RESERVED_ANNOTATION_PREFIX = "pyrunc."
# pyrunc's own annotations, each documented in README.md ("Networking"); any other pyrunc.*
# annotation is refused. Their values are checked where they are used (pyrunc.network.attach).
PYRUNC_ANNOTATIONS = {
    "pyrunc.network": "the networks to attach: <name>[,<name>...]",
    "pyrunc.network.hosts": "\"true\": bind-mount an /etc/hosts and /etc/hostname",
    "pyrunc.trace": "a file (from the bundle) for the trace of the init path's primitives",
}


def _check_oci_version(version):
    """Every 1.x config is accepted; another major is a different format."""
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_OCI_MAJOR:
        raise ConfigError("ociVersion", f"{version!r} is not a 1.x runtime-spec version")


def drop_nulls(obj):
    """Remove the null members of every object in obj, in place: a null property is an absent
    one, as runc (Go's decoder) reads it, so the rest of pyrunc never meets a None. Nulls in
    arrays stay, and are refused where a value is required."""
    if isinstance(obj, dict):
        for key in [k for k, v in obj.items() if v is None]:
            del obj[key]
        for value in obj.values():
            drop_nulls(value)
    elif isinstance(obj, list):
        for value in obj:
            drop_nulls(value)
    return obj


def validate(config, bundle, need_process=True):
    """Check config in place (null properties are dropped, see drop_nulls); return it. Raises
    ConfigError naming the first bad field."""
    if not isinstance(config, dict):
        raise ConfigError("config", "must be an object")
    drop_nulls(config)
    for (section, key), reason in UNSUPPORTED.items():
        if isinstance(config.get(section), dict) and config[section].get(key) is not None:
            raise ConfigError(f"{section}.{key}", reason)
    _check_oci_version(_get(config, "ociVersion", str, "ociVersion", required=True))
    root = _get(config, "root", dict, "root", required=True)
    root_path = _get(root, "path", str, "root.path", required=True)
    _get(root, "readonly", bool, "root.readonly")
    rootfs = os.path.join(bundle, root_path)
    if not os.path.isdir(rootfs):
        raise ConfigError("root.path", f"{rootfs}: no such directory")
    linux = _get(config, "linux", dict, "linux", {})
    namespaces = _validate_namespaces(linux)
    process = _get(config, "process", dict, "process", required=need_process)
    if process is not None:
        validate_process(process, "process")
    for key in ("hostname", "domainname"):
        if _get(config, key, str, key) and "uts" not in namespaces:
            raise ConfigError(key, "needs a new uts namespace (linux.namespaces has none)")
    _validate_mounts(config, bundle, namespaces)
    _validate_linux(linux, namespaces, {k: config.get(k) for k in ("hostname", "domainname")})
    if "mount" not in namespaces:
        _validate_without_mount_namespace(config, linux)
    _validate_hooks(config)
    annotations = _get(config, "annotations", dict, "annotations", {})
    for k, v in annotations.items():
        if not isinstance(v, str):
            raise ConfigError(f"annotations.{k}", "must be a string")
        if k.startswith(RESERVED_ANNOTATION_PREFIX) and k not in PYRUNC_ANNOTATIONS:
            raise ConfigError(f"annotations.{k}", "the pyrunc.* annotations are reserved for "
                              "pyrunc's own settings and this one is not one of them")
    return config


def validate_process(process, field):
    """The process object of config.json or of `exec --process`."""
    drop_nulls(process)
    args = _string_list(process, "args", f"{field}.args")
    if not args:
        raise ConfigError(f"{field}.args", "must name a program to run")
    env = _string_list(process, "env", f"{field}.env")
    for i, entry in enumerate(env):
        if "=" not in entry:
            raise ConfigError(f"{field}.env[{i}]", f"{entry!r} is not NAME=VALUE")
        if entry.startswith("="):
            # As runc: execve would take it, but no program can read a variable without a name.
            raise ConfigError(f"{field}.env[{i}]", f"{entry!r} has an empty variable name")
    cwd = _get(process, "cwd", str, f"{field}.cwd", "/")
    if not cwd.startswith("/"):
        raise ConfigError(f"{field}.cwd", f"{cwd!r} must be an absolute path")
    _get(process, "terminal", bool, f"{field}.terminal")
    _get(process, "noNewPrivileges", bool, f"{field}.noNewPrivileges")
    user = _get(process, "user", dict, f"{field}.user", {})
    for key in ("uid", "gid", "umask"):
        value = _get(user, key, int, f"{field}.user.{key}")
        if value is not None and value < 0:
            raise ConfigError(f"{field}.user.{key}", "must not be negative")
    for i, gid in enumerate(_get(user, "additionalGids", list, f"{field}.user.additionalGids", [])):
        if not isinstance(gid, int) or isinstance(gid, bool) or gid < 0:
            raise ConfigError(f"{field}.user.additionalGids[{i}]", "must be a non-negative integer")
    caps = _get(process, "capabilities", dict, f"{field}.capabilities", {})
    for key in names.CAP_SETS:
        for i, name in enumerate(_string_list(caps, key, f"{field}.capabilities.{key}")):
            # A name no Linux has is a typo: refused (runc ignores it). A real capability
            # this kernel lacks is only warned about when the process starts, as runc does.
            if name not in names.CAP_NUMBERS:
                raise ConfigError(f"{field}.capabilities.{key}[{i}]",
                                  f"unknown capability {name!r}")
    for i, rl in enumerate(_get(process, "rlimits", list, f"{field}.rlimits", [])):
        where = f"{field}.rlimits[{i}]"
        kind = _get(rl, "type", str, f"{where}.type", required=True)
        if kind not in names.RLIMITS:
            raise ConfigError(f"{where}.type", f"unknown rlimit {kind!r}")
        soft = _get(rl, "soft", int, f"{where}.soft", required=True)
        hard = _get(rl, "hard", int, f"{where}.hard", required=True)
        for part, value in (("soft", soft), ("hard", hard)):
            if not 0 <= value <= RLIM_MAX:
                raise ConfigError(f"{where}.{part}", f"{value} is not between 0 and {RLIM_MAX} "
                                  "(unlimited)")
        if soft > hard:
            raise ConfigError(where, f"{kind} soft limit {soft} is above its hard limit {hard}")
    oom = _get(process, "oomScoreAdj", int, f"{field}.oomScoreAdj")
    if oom is not None and not -1000 <= oom <= 1000:
        raise ConfigError(f"{field}.oomScoreAdj", "must be between -1000 and 1000")
    if _get(process, "apparmorProfile", str, f"{field}.apparmorProfile"):
        if not lsm.apparmor_enabled():
            raise ConfigError(f"{field}.apparmorProfile", "AppArmor is not enabled on this host")
    if _get(process, "selinuxLabel", str, f"{field}.selinuxLabel"):
        if not lsm.selinux_enabled():
            raise ConfigError(f"{field}.selinuxLabel", "SELinux is not enabled on this host")
    if process.get("ioPriority") is not None or process.get("scheduler") is not None:
        from pyrunc import scheduling  # only for the configs that use it
        if process.get("ioPriority") is not None:
            scheduling.validate_io_priority(process["ioPriority"], f"{field}.ioPriority")
        if process.get("scheduler") is not None:
            scheduling.validate_scheduler(process["scheduler"], f"{field}.scheduler")
    if process.get("execCPUAffinity") is not None:
        from pyrunc import affinity  # only for the processes that have one
        affinity.validate(process["execCPUAffinity"], f"{field}.execCPUAffinity")
    size = _get(process, "consoleSize", dict, f"{field}.consoleSize")
    if size is not None:
        _get(size, "height", int, f"{field}.consoleSize.height")
        _get(size, "width", int, f"{field}.consoleSize.width")
    return process


def _validate_namespaces(linux):
    """Return {type: path or ''} of linux.namespaces."""
    result = {}
    for i, ns in enumerate(_get(linux, "namespaces", list, "linux.namespaces", [])):
        where = f"linux.namespaces[{i}]"
        kind = _get(ns, "type", str, f"{where}.type", required=True)
        if kind not in names.NAMESPACES:
            raise ConfigError(f"{where}.type", f"unknown namespace type {kind!r}")
        if kind in result:
            raise ConfigError(f"{where}.type", f"namespace {kind!r} is listed twice")
        path = _get(ns, "path", str, f"{where}.path", "")
        if path:
            try:
                os.stat(path)
            except OSError as e:
                raise ConfigError(f"{where}.path", f"{path}: {e.strerror}") from None
        result[kind] = path
    return result


def _validate_without_mount_namespace(config, linux):
    """Without a mount namespace of its own the container shares the runtime's: its mounts
    are made under the rootfs in the host's mount table (and removed by delete), and it is
    chrooted, not pivoted. What would change the host's own mounts is refused, as runc refuses
    the masked and read-only paths."""
    for key in ("maskedPaths", "readonlyPaths"):
        if linux.get(key):
            raise ConfigError(f"linux.{key}", "needs a mount namespace of the container's own "
                              "(linux.namespaces has none): it would change the host's mounts")
    if linux.get("rootfsPropagation"):
        raise ConfigError("linux.rootfsPropagation", "needs a mount namespace of the "
                          "container's own (linux.namespaces has none): it would change the "
                          "propagation of the host's mounts")


def _validate_mounts(config, bundle, namespaces):
    from pyrunc.mountopts import parse_options, refusal
    for i, m in enumerate(_get(config, "mounts", list, "mounts", [])):
        where = f"mounts[{i}]"
        _abs_path(_get(m, "destination", str, f"{where}.destination", required=True),
                  f"{where}.destination")
        _get(m, "source", str, f"{where}.source")
        _get(m, "type", str, f"{where}.type")
        options = _string_list(m, "options", f"{where}.options")
        opts = parse_options(options)
        is_bind = opts.is_bind or m.get("type") == "bind"
        kind = "bind" if is_bind else m.get("type") or ""
        if is_bind:
            if not m.get("source"):
                raise ConfigError(f"{where}.source", "a bind mount needs a source")
            source = os.path.join(bundle, m["source"])  # an absolute source stays as it is
            if not os.path.exists(source):
                raise ConfigError(f"{where}.source", f"{source}: no such file or directory")
        # No option is dropped: each is applied or refused here, by name.
        refused = refusal(options, kind, is_bind)
        if refused:
            raise ConfigError(f"{where}.options", f'"{refused[0]}": {refused[1]}')
        _validate_mount_mappings(m, where, kind, opts, namespaces)


def _validate_mount_mappings(m, where, kind, opts, namespaces):
    """runtime-spec 1.2+: a mount's uidMappings and gidMappings come together; idmap or ridmap
    without them takes the container's user namespace's, and is an error without one. Mappings
    without either option are applied as idmap's (not to submounts), as runc 1.2 does."""
    from pyrunc.mountopts import IDMAP_KINDS
    given = {key: _mappings(m, key, f"{where}.{key}") for key in ("uidMappings", "gidMappings")}
    if bool(given["uidMappings"]) != bool(given["gidMappings"]):
        missing = "gidMappings" if given["uidMappings"] else "uidMappings"
        other = "uidMappings" if missing == "gidMappings" else "gidMappings"
        raise ConfigError(f"{where}.{missing}", f"is required with {other} (an id-mapped mount "
                          "maps both)")
    if given["uidMappings"] and kind not in IDMAP_KINDS:
        raise ConfigError(f"{where}.uidMappings", "pyrunc makes id-mapped bind and tmpfs mounts "
                          f"only, not {kind or 'this type'}")
    if opts.idmap and not given["uidMappings"] and "user" not in namespaces:
        raise ConfigError(f"{where}.options", f'"{opts.idmap}": the mount has no uidMappings and '
                          "gidMappings, and the container no user namespace to take them from")


def _validate_linux(linux, namespaces, config_field_values=None):
    config_field_values = config_field_values or {}
    for key in ("uidMappings", "gidMappings"):
        mappings = _mappings(linux, key, f"linux.{key}")
        if mappings and "user" not in namespaces:
            raise ConfigError(f"linux.{key}", "needs a user namespace (linux.namespaces has none)")
    if "user" in namespaces and not namespaces["user"]:
        if not linux.get("uidMappings") or not linux.get("gidMappings"):
            raise ConfigError("linux.uidMappings", "a new user namespace needs uid and gid mappings")
    for i, dev in enumerate(_get(linux, "devices", list, "linux.devices", [])):
        where = f"linux.devices[{i}]"
        _abs_path(_get(dev, "path", str, f"{where}.path", required=True), f"{where}.path")
        kind = _get(dev, "type", str, f"{where}.type", required=True)
        if kind not in DEVICE_TYPES:
            raise ConfigError(f"{where}.type", f"unknown device type {kind!r} (use c, b, u or p)")
        for part in ("major", "minor"):
            value = _get(dev, part, int, f"{where}.{part}", required=kind != "p")
            if value is not None and value < 0:
                raise ConfigError(f"{where}.{part}", "must not be negative")
        for part in ("fileMode", "uid", "gid"):
            _get(dev, part, int, f"{where}.{part}")
    cgroups_path = _get(linux, "cgroupsPath", str, "linux.cgroupsPath", "")
    if ".." in cgroups_path.split("/"):
        raise ConfigError("linux.cgroupsPath", f"{cgroups_path!r} escapes the cgroup hierarchy")
    _get(linux, "resources", dict, "linux.resources")
    for key, value in _get(linux, "sysctl", dict, "linux.sysctl", {}).items():
        if not isinstance(value, str):
            raise ConfigError(f"linux.sysctl.{key}", "must be a string")
        _check_sysctl(key, namespaces)
        if key in ("kernel.hostname", "kernel.domainname"):
            # Two values for one setting: refused, as runc refuses them.
            field = key.split(".")[1]
            if config_field_values.get(field):
                raise ConfigError(f"linux.sysctl.{key}", f"conflicts with the {field} field")
    for key in ("maskedPaths", "readonlyPaths"):
        for i, path in enumerate(_string_list(linux, key, f"linux.{key}")):
            _abs_path(path, f"linux.{key}[{i}]")
    propagation = _get(linux, "rootfsPropagation", str, "linux.rootfsPropagation")
    if propagation and propagation not in PROPAGATIONS:
        raise ConfigError("linux.rootfsPropagation", f"unknown propagation {propagation!r}")
    if _get(linux, "mountLabel", str, "linux.mountLabel"):
        if not lsm.selinux_enabled():
            raise ConfigError("linux.mountLabel", "SELinux is not enabled on this host")
    offsets = _get(linux, "timeOffsets", dict, "linux.timeOffsets", {})
    if offsets and ("time" not in namespaces or namespaces["time"]):
        raise ConfigError("linux.timeOffsets", "needs a new time namespace")
    for clock, offset in offsets.items():
        if clock not in ("monotonic", "boottime"):
            raise ConfigError(f"linux.timeOffsets.{clock}", "unknown clock (monotonic or boottime)")
        _get(offset, "secs", int, f"linux.timeOffsets.{clock}.secs")
        _get(offset, "nanosecs", int, f"linux.timeOffsets.{clock}.nanosecs")
    if linux.get("personality") is not None:
        from pyrunc import scheduling
        scheduling.validate_personality(linux["personality"], "linux.personality")
    seccomp = _get(linux, "seccomp", dict, "linux.seccomp")
    if seccomp is not None:
        from pyrunc.seccomp import validate_seccomp
        validate_seccomp(seccomp)
    if linux.get("memoryPolicy") is not None:
        from pyrunc import mempolicy
        mempolicy.validate(linux["memoryPolicy"])
    if linux.get("intelRdt") is not None:
        raise ConfigError("linux.intelRdt", intel_rdt_refusal())
    if linux.get("netDevices") is not None:
        from pyrunc.network import netdevices  # only for the configs that have them
        netdevices.validate(linux["netDevices"], namespaces)


def intel_rdt_refusal(mounts="/proc/self/mounts"):
    """Why linux.intelRdt is refused here: no resctrl on this host, or (where it is) not done."""
    try:
        with open(mounts) as f:
            has_resctrl = any(line.split()[2:3] == ["resctrl"] for line in f)
    except OSError:
        has_resctrl = False
    if not has_resctrl:
        return ("this host has no resctrl filesystem (none mounted at /sys/fs/resctrl): no "
                "Intel RDT / AMD QoS to apply it with")
    return "not supported yet (this host has resctrl, but pyrunc does not apply it)"


def _mappings(obj, key, field):
    """uidMappings or gidMappings (of linux or of a mount): a list of well-formed ranges."""
    mappings = _get(obj, key, list, field, [])
    for i, m in enumerate(mappings):
        for part in ("containerID", "hostID", "size"):
            value = _get(m, part, int, f"{field}[{i}].{part}", required=True)
            if value < 0:
                raise ConfigError(f"{field}[{i}].{part}", "must not be negative")
    _check_overlaps(mappings, field)
    return mappings


def _check_overlaps(mappings, field):
    """The kernel refuses uid/gid maps whose container or host ranges overlap: say which."""
    for side in ("containerID", "hostID"):
        spans = sorted((m[side], m[side] + m["size"], i) for i, m in enumerate(mappings))
        for (_s1, end1, i1), (start2, _e2, i2) in zip(spans, spans[1:]):
            if start2 < end1:
                raise ConfigError(f"{field}[{max(i1, i2)}]",
                                  f"its {side} range overlaps {field}[{min(i1, i2)}]")


def _check_sysctl(key, namespaces):
    field = f"linux.sysctl.{key}"
    if key in SYSCTL_IPC or key.startswith("fs.mqueue."):
        if "ipc" not in namespaces:
            raise ConfigError(field, "needs an ipc namespace")
    elif key.startswith("net."):
        if "network" not in namespaces:
            raise ConfigError(field, "needs a network namespace")
    elif key in ("kernel.hostname", "kernel.domainname"):
        if "uts" not in namespaces:
            raise ConfigError(field, "needs a uts namespace")
    elif key.startswith("user."):
        # The ucount limits (user.max_*_namespaces...) belong to the user namespace.
        if "user" not in namespaces:
            raise ConfigError(field, "needs a user namespace")
    else:
        raise ConfigError(field, "is not namespaced: it would change the host")


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
              "poststop")


def _validate_hooks(config):
    hooks = _get(config, "hooks", dict, "hooks", {})
    for kind, entries in hooks.items():
        if kind not in HOOK_KINDS:
            continue
        if not isinstance(entries, list):
            raise ConfigError(f"hooks.{kind}", "must be an array")
        for i, hook in enumerate(entries):
            where = f"hooks.{kind}[{i}]"
            path = _get(hook, "path", str, f"{where}.path", required=True)
            if not path.startswith("/"):
                raise ConfigError(f"{where}.path", f"{path!r} must be an absolute path")
            _string_list(hook, "args", f"{where}.args")
            _string_list(hook, "env", f"{where}.env")
            timeout = _get(hook, "timeout", int, f"{where}.timeout")
            if timeout is not None and timeout <= 0:
                raise ConfigError(f"{where}.timeout", "must be positive")


def namespaces_of(config):
    """{type: path} for linux.namespaces ('' when the namespace is new)."""
    return {ns["type"]: ns.get("path") or "" for ns in config.get("linux", {}).get("namespaces", [])}
