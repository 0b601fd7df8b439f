"""Linux security modules: process.apparmorProfile and process.selinuxLabel take effect at the
container's execve, by writing the process's attr files; linux.mountLabel labels the mounts.
Config validation refuses them on a host without the LSM (this one has neither)."""
import os

from pyrunc import procfs

APPARMOR = "/sys/kernel/security/apparmor"
SELINUX = "/sys/fs/selinux/enforce"


def apparmor_enabled():
    return os.path.exists(APPARMOR)


def selinux_enabled():
    return os.path.exists(SELINUX)


def exec_attributes(process, proc=procfs):
    """Ask the LSMs to switch the process's label at its next execve. proc: what writes
    /proc files, the verified procfs (a unit test passes a fake with write and exists)."""
    profile = process.get("apparmorProfile")
    if profile:
        # The AppArmor-specific file exists since Linux 5.8; older kernels use the shared one.
        path = "self/attr/apparmor/exec"
        if not proc.exists(path):
            path = "self/attr/exec"
        proc.write(path, f"exec {profile}")
    label = process.get("selinuxLabel")
    if label:
        proc.write("self/attr/exec", label)


def mount_data(data, mount_label, fstype):
    """Add SELinux's context= option to the data of a mount that takes it."""
    if not mount_label or fstype in ("proc", "sysfs", "cgroup", "cgroup2", "mqueue", ""):
        return data
    option = f'context="{mount_label}"'
    return f"{data},{option}" if data else option
