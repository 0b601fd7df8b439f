"""NOTIFY_SOCKET pass-through (runc's sd_notify support): with NOTIFY_SOCKET in pyrunc's
environment, the container's process gets a socket of pyrunc's at /run/notify/notify.sock, and
`start` waits for its READY=1 and relays it, with MAINPID, to the host's socket (here one the
test listens on, as systemd would).

Busybox cannot send a unix datagram (its nc speaks TCP/UDP, its logger writes syslog lines), so
the container's process is the host's python3, from a read-only bind of the host's /usr into a
private copy of the busybox rootfs."""
import json
import os
import socket
import uuid

import pytest

from leftovers import assert_nothing_left

pytestmark = pytest.mark.root

SEND_READY = ("import os, socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
              "s.sendto(b'READY=1\\nSTATUS=up', os.environ['NOTIFY_SOCKET'])")


@pytest.fixture
def listener(tmp_path):
    """The "systemd" side: a datagram socket, and its path for NOTIFY_SOCKET."""
    path = str(tmp_path / "systemd-notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield sock, path
    sock.close()


@pytest.fixture
def python_bundle(tmp_path, rootfs_copy):
    """A bundle whose rootfs (a private copy) sees the host's /usr, for python3."""
    for name in ("lib", "lib64"):
        os.symlink(f"usr/{name}", rootfs_copy / name)

    def make(args):
        from conftest import default_config
        config = default_config(str(rootfs_copy), args)
        config["mounts"] += [
            {"destination": "/usr", "type": "bind", "source": "/usr",
             "options": ["rbind", "ro"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=755"]}]
        bundle = tmp_path / f"bundle-{uuid.uuid4().hex[:6]}"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(config))
        return str(bundle)
    return make


def notify_env(path):
    return dict(os.environ, NOTIFY_SOCKET=path)


def test_ready_is_relayed_to_the_host_socket(runtime, python_bundle, listener):
    sock, path = listener
    bundle = python_bundle(["sh", "-c", f'/usr/bin/python3 -I -c "{SEND_READY}"; sleep 600'])
    runtime("create", "-b", bundle, "notify-ready", env=notify_env(path), check=True)
    pid = runtime.state("notify-ready")["pid"]
    # start returns once the container said READY=1: the message is there already
    runtime("start", "notify-ready", env=notify_env(path), check=True, timeout=30)
    assert sock.recv(4096) == b"READY=1\n"
    assert sock.recv(4096) == f"MAINPID={pid}\n".encode()

    # outside: the process was given pyrunc's socket, not the host's
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = f.read().split(b"\0")
    assert b"NOTIFY_SOCKET=/run/notify/notify.sock" in environ
    assert not any(path.encode() in e for e in environ)

    # inside: the socket is there, read-only mounted, a socket
    shown = runtime("exec", "notify-ready", "stat", "-c", "%F", "/run/notify/notify.sock")
    assert shown.returncode == 0 and shown.stdout.strip() == "socket", shown
    mounts = runtime("exec", "notify-ready", "grep", " /run/notify ", "/proc/self/mountinfo",
                     check=True).stdout
    assert " ro," in mounts or " ro " in mounts, mounts
    runtime("delete", "--force", "notify-ready", check=True)
    assert_nothing_left(runtime, "notify-ready", mentions=(runtime.root,))


def test_start_ends_when_the_process_exits_without_ready(runtime, python_bundle, listener):
    sock, path = listener
    bundle = python_bundle(["true"])
    runtime("create", "-b", bundle, "notify-never", env=notify_env(path), check=True)
    runtime("start", "notify-never", env=notify_env(path), check=True, timeout=30)
    sock.settimeout(0.2)
    with pytest.raises(socket.timeout):
        sock.recv(4096)
    runtime("delete", "--force", "notify-never", check=True)
    assert_nothing_left(runtime, "notify-never", mentions=(runtime.root,))


def test_without_notify_socket_there_is_no_notify_mount(runtime, python_bundle):
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    bundle = python_bundle(["sleep", "600"])
    runtime("run", "-d", "-b", bundle, "notify-none", env=env, check=True)
    result = runtime("exec", "notify-none", "ls", "/run/notify")
    assert result.returncode != 0
    assert not os.path.exists(os.path.join(runtime.root, "notify-none", "notify"))
    runtime("delete", "--force", "notify-none", check=True)
