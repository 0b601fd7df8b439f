"""`pyrunc features`: the runtime-spec Features structure (features.md, features-linux.md), from
what this build implements and what this host offers. What pyrunc recognises but does not do
says so (enabled false); a field it does not know at all is absent."""
from pyrunc import config, lsm, mempolicy, mountopts, names, seccomp
from pyrunc.config import HOOK_KINDS

# Annotations of config.json that change what a container is connected to on the host (a
# value ending in "." is a prefix, as features.md says): pyrunc's bridge networks; and the
# trace, which makes the runtime write a file in the bundle.
POTENTIALLY_UNSAFE_ANNOTATIONS = ["pyrunc.network", "pyrunc.network.", "pyrunc.trace"]
CHECKPOINT_ANNOTATION = "org.opencontainers.runtime-spec.features.pyrunc.checkpoint"


def checkpoint_support():
    from pyrunc.checkpoint import features as checkpoint_features
    return checkpoint_features()


def features():
    from pyrunc import __version__, native

    archs = [f"SCMP_ARCH_{a.upper()}" for a in seccomp.ARCHS if native.seccomp_arch_known(a)]
    mount_options = sorted(set(mountopts.FLAGS) | set(mountopts.PROPAGATION)
                           | set(mountopts.RECURSIVE) | set(mountopts.IDMAP)
                           | set(mountopts.RUNTIME_OPTIONS))
    return {
        "ociVersionMin": config.OCI_VERSION_MIN,
        "ociVersionMax": config.OCI_VERSION_MAX,
        "hooks": list(HOOK_KINDS),
        "mountOptions": mount_options,
        "annotations": {"org.opencontainers.runtime-spec.features.pyrunc.version": __version__,
                        # checkpoint/restore: "available (criu X)" or "unavailable: <reason>"
                        CHECKPOINT_ANNOTATION: checkpoint_support()},
        "potentiallyUnsafeConfigAnnotations": POTENTIALLY_UNSAFE_ANNOTATIONS,
        "linux": {
            "namespaces": sorted(names.NAMESPACES),
            "capabilities": names.CAPABILITIES[:names.cap_last_cap() + 1],
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False,
                       "rdma": True},
            "seccomp": {
                "enabled": True,
                "actions": sorted(seccomp.ACTIONS),
                "operators": sorted(seccomp.OPERATORS),
                "archs": archs,
                "knownFlags": sorted(set(seccomp.FLAG_ATTRS) | set(seccomp.LATER_FLAG_ATTRS)),
                "supportedFlags": sorted(seccomp.supported_flags()),
            },
            "apparmor": {"enabled": lsm.apparmor_enabled()},
            "selinux": {"enabled": lsm.selinux_enabled()},
            # Refused by name (config.intel_rdt_refusal): no resctrl support yet.
            "intelRdt": {"enabled": False, "schemata": False},
            # Id-mapped bind and tmpfs mounts, made on the host by the parent (idmap.py).
            "mountExtensions": {"idmap": {"enabled": True}},
            "netDevices": {"enabled": True},
            "memoryPolicy": {"modes": list(mempolicy.MODES), "flags": list(mempolicy.FLAGS)},
        },
    }
