"""The built-in busybox bundle: a recipe, not a stored image.

pyrunc ships no root filesystem. Instead, ensure_bundle() assembles an OCI
bundle on demand from the host's statically linked busybox (Debian package
busybox-static): rootfs/ holds the binary, one hard link per applet and a
minimal /etc, and config.yaml is the hand-written runtime config kept next to
this file. The bundle is rebuilt when the busybox binary, the config or the
recipe changes, and is swapped into place with rename() so that concurrent
first uses never see a half-built tree.
"""
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile

BUSYBOX = "/bin/busybox"
DEFAULT_DEST = "/var/lib/pyrunc/bundles/busybox"
RECIPE_VERSION = "1"  # bump when the layout below changes
STAMP = ".pyrunc-stamp"
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.yaml")

DIRS = {".": 0o755, "bin": 0o755, "dev": 0o755, "etc": 0o755, "proc": 0o555,
        "root": 0o700, "run": 0o755, "sys": 0o555, "tmp": 0o1777, "var": 0o755, "var/tmp": 0o1777}
FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "etc/group": "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    "etc/hostname": "pyrunc\n",
    "etc/hosts": "",
    "etc/resolv.conf": "",
}


def _stamp() -> str:
    """What the bundle was built from; a different value means it is stale."""
    try:
        st = os.stat(BUSYBOX)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{BUSYBOX} not found; the built-in bundle needs it: "
            "apt-get install busybox-static") from None
    with open(CONFIG, "rb") as f:
        config_hash = hashlib.sha256(f.read()).hexdigest()[:16]
    return f"recipe={RECIPE_VERSION} size={st.st_size} mtime={st.st_mtime_ns} config={config_hash}\n"


def _is_fresh(dest: str, stamp: str) -> bool:
    try:
        with open(os.path.join(dest, STAMP)) as f:
            return f.read() == stamp
    except OSError:
        return False


def _build_rootfs(rootfs: str) -> None:
    for path, mode in DIRS.items():
        os.makedirs(os.path.join(rootfs, path), exist_ok=True)
        os.chmod(os.path.join(rootfs, path), mode)  # makedirs is subject to umask
    binary = os.path.join(rootfs, "bin/busybox")
    shutil.copy2(BUSYBOX, binary)
    applets = subprocess.run([BUSYBOX, "--list-full"], check=True,
                             capture_output=True, text=True).stdout.split()
    for applet in applets:
        link = os.path.join(rootfs, applet.lstrip("/"))
        if os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), mode=0o755, exist_ok=True)
        os.link(binary, link)
    for path, text in FILES.items():
        with open(os.path.join(rootfs, path), "w") as f:
            f.write(text)


def ensure_bundle(dest_dir: str | None = None) -> str:
    """Return the path of an up-to-date busybox bundle, building it if needed."""
    dest = os.path.abspath(dest_dir or DEFAULT_DEST)
    stamp = _stamp()
    if _is_fresh(dest, stamp):
        return dest
    parent, name = os.path.split(dest)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    # Builders serialise on a lock; readers never lock, they only ever see
    # either no bundle or a complete one thanks to rename().
    with open(os.path.join(parent, f".{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_fresh(dest, stamp):  # someone else built it while we waited
            return dest
        tmp = tempfile.mkdtemp(prefix=f".{name}.new-", dir=parent)
        try:
            os.chmod(tmp, 0o755)
            _build_rootfs(os.path.join(tmp, "rootfs"))
            shutil.copyfile(CONFIG, os.path.join(tmp, "config.yaml"))
            with open(os.path.join(tmp, STAMP), "w") as f:
                f.write(stamp)
            old = None
            if os.path.lexists(dest):
                old = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
                os.rename(dest, os.path.join(old, name))
            os.rename(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if old:
            shutil.rmtree(old, ignore_errors=True)
    return dest
