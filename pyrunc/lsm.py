"""Linux security modules: process.apparmorProfile and process.selinuxLabel take effect at the
container's execve, by writing the process's attr files; linux.mountLabel labels the mounts.
Config validation refuses them on a host without the LSM (this one has neither)."""
import os

APPARMOR = "/sys/kernel/security/apparmor"
SELINUX = "/sys/fs/selinux/enforce"


def apparmor_enabled():
    return os.path.exists(APPARMOR)


def selinux_enabled():
    return os.path.exists(SELINUX)


def exec_attributes(process, proc="/proc"):
    """Ask the LSMs to switch the process's label at its next execve."""
    profile = process.get("apparmorProfile")
    if profile:
        # The AppArmor-specific file exists since Linux 5.8; older kernels use the shared one.
        path = f"{proc}/self/attr/apparmor/exec"
        if not os.path.exists(path):
            path = f"{proc}/self/attr/exec"
        _write(path, f"exec {profile}")
    label = process.get("selinuxLabel")
    if label:
        _write(f"{proc}/self/attr/exec", label)


def mount_data(data, mount_label, fstype):
    """Add SELinux's context= option to the data of a mount that takes it."""
    if not mount_label or fstype in ("proc", "sysfs", "cgroup", "cgroup2", "mqueue", ""):
        return data
    option = f'context="{mount_label}"'
    return f"{data},{option}" if data else option


def _write(path, value):
    with open(path, "w") as f:
        f.write(value)
