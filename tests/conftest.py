"""Shared fixtures. Integration tests drive the installed `pyrunc` command (scripts/install puts
it in /usr/local/bin) against bundles made from the built-in busybox rootfs, each test with its
own --root under /run so nothing collides and everything is checked for leftovers."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

# The tests run against the installed pyrunc (scripts/install), never the checkout's sources,
# which have no compiled native/ and no pyrunc.builtin_rootfs: drop the checkout from the path
# that `python -m pytest` puts first (scripts/test also passes -P).
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _REPO]

PYRUNC = shutil.which("pyrunc") or "/usr/local/bin/pyrunc"
# The tests' double of pyrunc, which obeys PYRUNC_TEST_KILL_AT and PYRUNC_TEST_DISABLE_PROTECTION
# (tests/pyrunc_faulty.py), run by the installed venv's interpreter (the one running pytest).
# -I: like the launcher's -sE, no user site-packages nor PYTHON* variables, and not tests/ on
# the path.
FAULTY = (sys.executable, "-I", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "pyrunc_faulty.py"))

from hangcheck import hang_error, run_bounded, wait_bounded  # noqa: E402 - after the path fix


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        # The suite must not pass by skipping: without root, integration tests fail loudly.
        for item in items:
            if "integration" in str(item.fspath):
                item.add_marker(pytest.mark.xfail(reason="needs root", strict=True, run=False))


@pytest.fixture(scope="session")
def busybox_rootfs():
    """The built-in bundle's rootfs, shared by the tests: none may add to it (mount points go
    into rootfs_copy), which is checked at the end of the session."""
    from pyrunc.builtin_rootfs import ensure_bundle
    rootfs = os.path.join(ensure_bundle(), "rootfs")
    before = sorted(os.listdir(rootfs))
    yield rootfs
    assert sorted(os.listdir(rootfs)) == before, "a test changed the shared busybox rootfs"


@pytest.fixture
def rootfs_copy(tmp_path, busybox_rootfs):
    """A private, writable copy of the busybox rootfs (small: the applets are hard links), for
    tests that plant files in it or add mount points, which the shared one must not get."""
    rootfs = tmp_path / "rootfs-copy"
    subprocess.run(["cp", "-a", busybox_rootfs, str(rootfs)], check=True)
    return rootfs


class Runtime:
    """`pyrunc --root <root> ...` with a private state root."""

    def __init__(self, root, launcher=(PYRUNC,), used_ids=None):
        self.root = root
        self.launcher = list(launcher)
        self.used_ids = set() if used_ids is None else used_ids

    def faulty(self):
        """The same runtime (root, ids) run through the tests' double (FAULTY): the one to
        give PYRUNC_TEST_KILL_AT or PYRUNC_TEST_DISABLE_PROTECTION, which `pyrunc` ignores."""
        return Runtime(self.root, FAULTY, self.used_ids)

    def cmd(self, *args, global_args=()):
        if len(args) > 1 and args[0] in ("create", "run"):
            self.used_ids.add(args[-1])  # runc's command line ends with the id
        return [*self.launcher, "--root", self.root, *global_args, *args]

    def __call__(self, *args, check=False, timeout=60, global_args=(), **kw):
        """Run pyrunc; stdout and stderr are captured through files, not pipes: a container
        started by create/run -d inherits them and would hold a pipe open long after pyrunc
        returned (as with runc). A command still running after timeout seconds fails the test
        with the stacks of every pyrunc process (run_bounded)."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = run_bounded(self.cmd(*args, global_args=global_args), timeout=timeout,
                               stdout=kw.pop("stdout", out), stderr=kw.pop("stderr", err), **kw)
            out.seek(0)
            err.seek(0)
            result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                                 out.read().decode(errors="replace"),
                                                 err.read().decode(errors="replace"))
        if check and result.returncode != 0:
            raise AssertionError(f"pyrunc {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def state(self, container_id):
        result = self("state", container_id, check=True)
        return json.loads(result.stdout)

    def ids(self):
        return containers_in(self.root)


@pytest.fixture
def runtime():
    root = f"/run/pyrunc-test-{uuid.uuid4().hex[:8]}"
    rt = Runtime(root)
    yield rt
    for container_id in rt.ids():
        run_bounded(rt.cmd("delete", "--force", container_id), capture_output=True, timeout=60)
    leftover = rt.ids()
    shutil.rmtree(root, ignore_errors=True)
    assert not leftover, f"containers left in {root}: {leftover}"
    cgroups = [d for i in rt.used_ids if i and "/" not in i and i not in ("..", ".")
               for d in cgroup_dirs(i)]
    assert not cgroups, f"cgroups left: {cgroups}"


def containers_in(root):
    """The entries of a pyrunc state root that are containers: every one but the ring of
    post-mortems (pyrunc/postmortem.py), which holds records of failures, bounded, and never
    a container (its name is not a valid id)."""
    from pyrunc.state import POSTMORTEMS
    try:
        return sorted(n for n in os.listdir(root) if n != POSTMORTEMS)
    except FileNotFoundError:
        return []


def default_config(rootfs, args):
    from pyrunc.spec import default_spec
    config = default_spec()
    config["root"] = {"path": rootfs, "readonly": True}
    config["process"]["terminal"] = False
    config["process"]["args"] = list(args)
    config["linux"].pop("resources", None)
    return config


@pytest.fixture
def make_bundle(tmp_path, busybox_rootfs):
    """make_bundle(args, edit=None, name='bundle') -> bundle dir with config.json; edit(config)
    may change the config in place before it is written."""
    def make(args=("true",), edit=None, name="bundle"):
        bundle = tmp_path / name
        bundle.mkdir()
        config = default_config(busybox_rootfs, args)
        if edit:
            edit(config)
        (bundle / "config.json").write_text(json.dumps(config, indent=1))
        return str(bundle)
    return make


def run_on_pty(argv, timeout=30, env=None):
    """Run argv with a new pty as its stdin/stdout/stderr; return (exit code, output)."""
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    try:
        output = read_until(master, timeout=timeout)
    except AssertionError as e:
        raise hang_error(proc, timeout, str(e)) from None
    finally:
        os.close(master)
    return wait_bounded(proc, timeout), output


def read_until(fd, needle=None, timeout=30):
    """Read fd until end of file (EIO on a pty whose other side closed), or until needle;
    fails after timeout seconds rather than hang the suite."""
    import select
    import time
    deadline = time.monotonic() + timeout
    output = b""
    while needle is None or needle not in output:
        if not select.select([fd], [], [], max(0, deadline - time.monotonic()))[0]:
            raise AssertionError(f"no more output after {timeout}s: {output!r}")
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    return output


def read_file(path, mode="rb"):
    """A /proc file's content, or None once the process is gone."""
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


@pytest.fixture
def marker():
    """NAME=value to put in pyrunc's and the container's environment, so the processes a test
    started can be found in /proc whatever else runs on the machine."""
    return f"PYRUNC_TEST_MARKER={uuid.uuid4().hex}"


def env_with(marker):
    name, _, value = marker.partition("=")
    return dict(os.environ, **{name: value})


def wait_until(predicate, timeout=10.0, interval=0.02):
    """Poll predicate until true or timeout; its last value."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def processes_with_marker(marker):
    """Pids whose environment holds marker (tests tag the containers they start with one)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def live_processes(*tags):
    """Pids of live (non-zombie) processes whose cmdline or environ holds one of the tags."""
    needles = [t.encode() for t in tags]
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rindex(b")") + 2:].split()[0] in (b"Z", b"X"):
                continue
            blobs = []
            for name in ("cmdline", "environ"):
                with open(f"/proc/{entry}/{name}", "rb") as f:
                    blobs.append(f.read())
        except OSError:
            continue
        if any(n in b for n in needles for b in blobs):
            found.append(int(entry))
    return found


def cgroup_dirs(container_id):
    """The container's default cgroup (/<id>) in every hierarchy, where it exists."""
    from pyrunc.cgroups.layout import hierarchies
    return [d for d in (os.path.join(h.mountpoint, container_id) for h in hierarchies())
            if os.path.isdir(d)]


def host_mounts_mentioning(text):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if text in line]


def python():
    return sys.executable
