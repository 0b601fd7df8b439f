"""`pyrunc features`: the runtime-spec Features structure (features.md), computed from what this
build implements and what this host offers."""
import os

from pyrunc import config, mountopts, names, seccomp
from pyrunc.config import HOOK_KINDS

CHECKPOINT_ANNOTATION = "org.opencontainers.runtime-spec.features.pyrunc.checkpoint"


def checkpoint_support():
    from pyrunc.checkpoint import features as checkpoint_features
    return checkpoint_features()


def features():
    from pyrunc import __version__, native

    archs = [f"SCMP_ARCH_{a.upper()}" for a in seccomp.ARCHS if native.seccomp_arch_known(a)]
    mount_options = sorted(set(mountopts.FLAGS) | set(mountopts.PROPAGATION)
                           | set(mountopts.RUNTIME_OPTIONS))
    return {
        "ociVersionMin": config.OCI_VERSION_MIN,
        "ociVersionMax": config.OCI_VERSION_MAX,
        "hooks": list(HOOK_KINDS),
        "mountOptions": mount_options,
        "annotations": {"org.opencontainers.runtime-spec.features.pyrunc.version": __version__,
                        # checkpoint/restore: "available (criu X)" or "unavailable: <reason>"
                        CHECKPOINT_ANNOTATION: checkpoint_support()},
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
                "knownFlags": sorted(seccomp.FLAG_ATTRS),
                "supportedFlags": sorted(seccomp.FLAG_ATTRS),
            },
            "apparmor": {"enabled": os.path.exists("/sys/kernel/security/apparmor")},
            "selinux": {"enabled": os.path.exists("/sys/fs/selinux/enforce")},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
    }
