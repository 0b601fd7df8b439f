"""Helpers of the process, namespace, rootfs, hook and CLI tests: containers run
detached with their output in a file, views of /proc from outside, host mounts made for a test
and removed after it."""
import contextlib
import os
import subprocess
import uuid

from conftest import wait_until

SUFFIX = uuid.uuid4().hex[:6]
PYTHON_HOST = "/opt/pyrunc/bin/python"  # for hooks and probes run on the host


def cid(name):
    """Container ids are global for cgroups (/<id>): keep ours apart from other tests'."""
    return f"ft-{name}-{SUFFIX}"


def script(config, text):
    config["process"]["args"] = ["sh", "-c", text]


def run_lines(runtime, bundle, name):
    return runtime("run", "-b", bundle, cid(name), check=True).stdout.splitlines()


def run_detached(runtime, bundle, container_id, tmp_path):
    """run -d with the container's stdout in a file; wait for the READY its script prints.
    Returns (host pid of the init, what it printed before READY)."""
    out = tmp_path / f"{container_id}.out"
    with open(out, "wb") as f:
        runtime("run", "-d", "-b", bundle, container_id, check=True, stdout=f)
    assert wait_until(lambda: "READY" in out.read_text()), out.read_text()
    return runtime.state(container_id)["pid"], out.read_text().split("READY")[0]


def ns_inode(pid, kind):
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1:]
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def marked_env(marker):
    """pyrunc's environment with a marker, which its forked children keep until they exec."""
    return dict(os.environ, FT_MARKER=marker)


def mountinfo_line(mountinfo, mountpoint):
    """The line of mountinfo text for mountpoint (the last one: the top of a stack)."""
    lines = [line for line in mountinfo.splitlines() if line.split()[4] == mountpoint]
    assert lines, f"{mountpoint} not mounted:\n{mountinfo}"
    return lines[-1]


def mount_flags(line):
    return line.split()[5].split(",")


def optional_fields(line):
    """shared:N, master:N, propagate_from:N, unbindable of a mountinfo line."""
    return line.split(" - ")[0].split()[6:]


@contextlib.contextmanager
def host_tmpfs(path, shared=False):
    """A tmpfs of the host at path (shared: propagates mounts to its peers and slaves)."""
    path.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(path)], check=True)
    try:
        if shared:
            subprocess.run(["mount", "--make-shared", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def host_mount_count(text):
    with open("/proc/self/mountinfo") as f:
        return sum(text in line for line in f)
