"""linux.memoryPolicy (runtime-spec 1.3): the NUMA memory policy of the container's processes,
checked in the parent (mode, flags, nodes online on this host) and set with set_mempolicy(2)
by each process (the init and every exec) before its execve, which keeps it."""
from pyrunc.errors import ConfigError

FIELD = "linux.memoryPolicy"
# linux/mempolicy.h
MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3,
         "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14,
         "MPOL_F_STATIC_NODES": 1 << 15}
# The modes that take no nodes (the kernel refuses a mask with them), and those that need one.
NO_NODES = ("MPOL_DEFAULT", "MPOL_LOCAL")
NEED_NODES = ("MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE")
ONLINE = "/sys/devices/system/node/online"


def parse_nodes(text, field):
    """A node list ('0-3,5') as a sorted list of node numbers."""
    nodes = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ConfigError(field, f"{text!r} is not a node list (such as 0-3,5)") from None
        if first < 0 or last < first:
            raise ConfigError(field, f"{part!r} is not a node range")
        nodes.update(range(first, last + 1))
    return sorted(nodes)


def online_nodes(path=ONLINE):
    """The NUMA nodes online here; None when the kernel has no NUMA support to say so."""
    try:
        with open(path) as f:
            return set(parse_nodes(f.read().strip(), path))
    except OSError:
        return None


def validate(policy, online=None):
    """Check linux.memoryPolicy in the parent, the nodes against those online here (or the
    given set)."""
    _mode, _words, nodes = encode(policy)
    online = online_nodes() if online is None else online
    if online is None:
        raise ConfigError(FIELD, "this kernel has no NUMA support (no " + ONLINE + ")")
    # Relative nodes are numbered within the allowed set, not the host's: only the kernel knows.
    if nodes and "MPOL_F_RELATIVE_NODES" not in (policy.get("flags") or []):
        missing = [n for n in nodes if n not in online]
        if missing:
            raise ConfigError(f"{FIELD}.nodes", f"node {missing[0]} is not online on this "
                              f"host (online: {','.join(map(str, sorted(online)))})")


def encode(policy):
    """(mode with its flags, node words, nodes) for set_mempolicy; every check but the
    host's nodes."""
    if not isinstance(policy, dict):
        raise ConfigError(FIELD, "must be an object")
    mode = policy.get("mode")
    if mode not in MODES:
        raise ConfigError(f"{FIELD}.mode", f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    flags = policy.get("flags") or []
    if not isinstance(flags, list):
        raise ConfigError(f"{FIELD}.flags", "must be a list")
    value = MODES[mode]
    for i, flag in enumerate(flags):
        if flag not in FLAGS:
            raise ConfigError(f"{FIELD}.flags[{i}]", f"unknown flag {flag!r}")
        value |= FLAGS[flag]
    if "MPOL_F_STATIC_NODES" in flags and "MPOL_F_RELATIVE_NODES" in flags:
        raise ConfigError(f"{FIELD}.flags", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES "
                          "exclude each other")
    text = policy.get("nodes")
    text = "" if text is None else text
    if not isinstance(text, str):
        raise ConfigError(f"{FIELD}.nodes", "must be a string (a node list such as 0-3,5)")
    nodes = parse_nodes(text, f"{FIELD}.nodes")
    if mode in NO_NODES and nodes:
        raise ConfigError(f"{FIELD}.nodes", f"{mode} takes no nodes")
    if mode in NEED_NODES and not nodes:
        raise ConfigError(f"{FIELD}.nodes", f"{mode} needs at least one node")
    words = [0] * ((nodes[-1] // 64 + 1) if nodes else 0)
    for n in nodes:
        words[n // 64] |= 1 << (n % 64)
    return value, words, nodes


def apply(policy):
    """Set the policy on this process (in the child, before execve; validate() ran in the
    parent)."""
    from pyrunc import native
    mode, words, _nodes = encode(policy)
    native.set_mempolicy(mode, words)
