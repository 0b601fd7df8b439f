"""The engine daemons of the engine tests and of scripts/bench-engines: containerd (alone, or
with its CRI plugin as kubelet would use it) and dockerd, each started with its own root, state
directory and socket under a new directory in /tmp, waited for, and stopped with everything
it made: tasks and containers, shims, mounts, the cgroup parents of its containers, the
directory itself. No systemd here: the daemons are plain child processes.

The pyrunc part of every engine's configuration comes from the files under scripts/engines/,
which the README shows: the daemons here merge their private paths into those files, so the
documented snippets are the ones under test."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from pathlib import Path

from cgroup_tree import remove_cgroup_tree  # noqa: F401 - also imported from here by test_cri, capture
from conftest import containers_in, live_processes

REPO = Path(__file__).resolve().parents[2]
SNIPPETS = REPO / "scripts" / "engines"
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's 20.10 client, whatever else is on PATH
PYRUNC = shutil.which("pyrunc") or "/usr/local/bin/pyrunc"
RUNC = shutil.which("runc") or "/usr/sbin/runc"
PYRUNC_CNI = os.path.join(os.path.dirname(sys.executable), "pyrunc-cni")  # pip put it there
CNI_PLUGINS = "/usr/lib/cni"  # Debian's containernetworking-plugins (loopback, for the CRI)
# containerd 1.6 puts shim sockets under /run/containerd/s and ctr its fifos under
# /run/containerd/fifo whatever the configured state directory is.
CONTAINERD_RUN = "/run/containerd"


def ok(result):
    """Assert an engine command succeeded; show its output (pyrunc's error with it) if not."""
    assert result.returncode == 0, (f"{' '.join(map(str, result.args))} -> {result.returncode}"
                                    f"\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result


@contextlib.contextmanager
def running(daemon):
    """Start daemon, yield it, stop it (also when it did not come up); fails if stopping left
    anything behind."""
    try:
        yield daemon.start()
    finally:
        problems = daemon.stop()
        assert not problems, problems


def snippet(name):
    return (SNIPPETS / name).read_text()


def merged(base, extra):
    """base with extra laid over it, dict by dict (neither is changed)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def toml_text(table, path=()):
    """A TOML document for nested dicts of strings, booleans, integers and lists of those:
    enough for containerd's configuration (tomllib reads, but Python writes no TOML)."""
    def key(k):
        return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, str)):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(f"no TOML for {v!r}")

    scalars = [f"{key(k)} = {value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    lines = []
    if path and scalars:
        lines.append("[" + ".".join(key(k) for k in path) + "]")
    lines += scalars
    for k, v in table.items():
        if isinstance(v, dict):
            lines.append(toml_text(v, path + (k,)))
    return "\n".join(line for line in lines if line)


def _wait_for(what, check, timeout, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = Path(log_path).read_text(errors="replace")[-3000:] if os.path.exists(log_path) else ""
    raise AssertionError(f"{what} did not come up in {timeout}s; its log ends with:\n{tail}")


def _mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path + "/")]


def _kill_processes_mentioning(text):
    """SIGKILL every live process whose command line or environment holds text (the daemon's
    shims name its directory); returns their pids."""
    pids = live_processes(text)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


class Daemon:
    """A daemon under a private directory. Subclasses say how to start and empty it."""

    name = "daemon"

    def __init__(self):
        self.tag = uuid.uuid4().hex[:8]
        self.dir = Path(tempfile.mkdtemp(prefix=f"pyrunc-{self.name}-", dir="/tmp"))
        self.log_path = self.dir / f"{self.name}.log"
        self.proc = None
        self.had_containerd_run = os.path.isdir(CONTAINERD_RUN)

    def _spawn(self, argv, env=None):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)

    def stop(self):
        """Empty the daemon, stop it, and remove what it leaves; returns a list of leftovers
        that could not be removed (the caller asserts it is empty)."""
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.empty()
            except Exception as e:  # noqa: BLE001 - keep stopping; report it
                problems.append(f"emptying {self.name}: {e}")
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append(f"{self.name} did not stop on SIGTERM")
        shims = _kill_processes_mentioning(str(self.dir))
        if shims:
            problems.append(f"processes left (killed): {shims}")
        for point in sorted(_mounts_under(str(self.dir)), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        problems += self.cleanup()
        if not self.had_containerd_run:
            for sub in ("s", "fifo", "runc", ""):
                try:
                    os.rmdir(os.path.join(CONTAINERD_RUN, sub))
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    def import_rootfs(self, rootfs, name, cmd, **kw):
        """An image of rootfs running cmd (imageutil), imported as name."""
        from imageutil import write_image_archive
        self.import_image(write_image_archive(str(self.dir / "image.tar"), rootfs, name, cmd),
                          **kw)

    def empty(self):
        pass

    def cleanup(self):
        return []


class Containerd(Daemon):
    """containerd 1.6 with a configuration of its own. cri=True adds the CRI plugin set up as
    for kubelet: the runtime handler of scripts/engines/containerd-cri.toml, a pause image,
    pyrunc-cni as the CNI plugin on the given subnet."""

    name = "containerd"

    def __init__(self, cri=False, subnet="10.234.2.0/24", sandbox_image=None):
        super().__init__()
        self.socket = str(self.dir / "containerd.sock")
        self.namespace = f"pyrunc-test-{self.tag}"  # ctr's; the CRI uses k8s.io
        self.pyrunc_root = str(self.dir / "pyrunc-root")  # --runc-root / the handler's Root
        self.cri = cri
        self.bridge = f"pyrcri{self.tag[:6]}"
        self.leases = str(self.dir / "leases")
        config = {
            "version": 2, "root": str(self.dir / "root"), "state": str(self.dir / "state"),
            "grpc": {"address": self.socket},
            "ttrpc": {"address": self.socket + ".ttrpc"},
            "debug": {"address": str(self.dir / "debug.sock")},
            "plugins": {"io.containerd.grpc.v1.cri": {"disable_cgroup": False}},
        }
        if cri:
            cni_bin = self.dir / "cni-bin"
            cni_conf = self.dir / "cni-conf"
            cni_bin.mkdir()
            cni_conf.mkdir()
            os.symlink(PYRUNC_CNI, cni_bin / "pyrunc-cni")
            os.symlink(os.path.join(CNI_PLUGINS, "loopback"), cni_bin / "loopback")
            (cni_conf / "10-pyrunc.conflist").write_text(json.dumps({
                "cniVersion": "1.0.0", "name": f"pyrcri-{self.tag}", "plugins": [{
                    "type": "pyrunc-cni", "bridge": self.bridge, "isGateway": True,
                    "isDefaultGateway": True, "persistent": False,
                    "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                             "dataDir": self.leases}}]}))
            documented = tomllib.loads(snippet("containerd-cri.toml"))
            config = merged(config, documented)
            handler = self.handler()
            config = merged(config, {"plugins": {"io.containerd.grpc.v1.cri": {
                "sandbox_image": sandbox_image or "localhost/pyrunc-pause:latest",
                # kubelet's sandboxes get oom_score_adj -998: CAP_SYS_RESOURCE, not here.
                "restrict_oom_score_adj": True,
                "netns_mounts_under_state_dir": True,
                "cni": {"bin_dir": str(cni_bin), "conf_dir": str(cni_conf)},
                "containerd": {"runtimes": {handler: {"options": {
                    "Root": self.pyrunc_root}}}}}}})
        else:
            config["disabled_plugins"] = ["io.containerd.grpc.v1.cri"]
        self.config = config
        self.config_path = self.dir / "config.toml"
        self.config_path.write_text(toml_text(config) + "\n")

    @staticmethod
    def handler():
        """The runtime handler name of the documented configuration (one runtime there)."""
        runtimes = tomllib.loads(snippet("containerd-cri.toml"))["plugins"][
            "io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
        (name,) = runtimes
        return name

    def start(self):
        self._spawn([CONTAINERD, "--config", str(self.config_path)])
        _wait_for("containerd", lambda: self.ctr("version").returncode == 0, 30, self.log_path)
        return self

    def ctr_argv(self, *args, namespace=None):
        return [CTR, "--address", self.socket, "--namespace", namespace or self.namespace,
                *args]

    def ctr(self, *args, namespace=None, timeout=60, **kw):
        argv = self.ctr_argv(*args, namespace=namespace)
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(argv, timeout=timeout, **kw)

    def run_args(self, runtime=PYRUNC):
        """`ctr run`'s flags for a runtime binary, as the README shows them for pyrunc."""
        return ["--runc-binary", runtime, "--runc-root", self.pyrunc_root]

    def import_image(self, archive, namespace=None):
        ok(self.ctr("images", "import", str(archive), namespace=namespace, timeout=120))

    def empty(self):
        for namespace in (self.namespace, "k8s.io"):
            tasks = self.ctr("tasks", "ls", "-q", namespace=namespace).stdout.split()
            for task in tasks:
                self.ctr("tasks", "kill", "-a", "-s", "KILL", task, namespace=namespace)
            for task in tasks:
                self.ctr("tasks", "delete", "-f", task, namespace=namespace)
            for container in self.ctr("containers", "ls", "-q",
                                      namespace=namespace).stdout.split():
                self.ctr("containers", "rm", container, namespace=namespace)

    def cleanup(self):
        problems = []
        left = os.listdir(self.pyrunc_root) if os.path.isdir(self.pyrunc_root) else []
        for namespace_dir in left:
            states = containers_in(os.path.join(self.pyrunc_root, namespace_dir))
            if states:
                problems.append(f"pyrunc state left in {self.pyrunc_root}/{namespace_dir}: "
                                f"{states}")
        problems += [f"cgroup left: {d}" for d in remove_cgroup_tree(self.namespace)]
        return problems


class Dockerd(Daemon):
    """dockerd 20.10 with the runtimes of scripts/engines/docker-daemon.json and its own
    directories. It never touches the host's network: no default bridge, no iptables rules, no
    ip_forward, no masquerading (the tests' user-defined networks are --internal bridges)."""

    name = "dockerd"

    def __init__(self):
        super().__init__()
        self.socket = str(self.dir / "docker.sock")
        self.cgroup_parent = f"pyrunc-docker-{self.tag}"
        documented = json.loads(snippet("docker-daemon.json"))
        self.config = merged(documented, {
            "data-root": str(self.dir / "data"), "exec-root": str(self.dir / "exec"),
            "pidfile": str(self.dir / "docker.pid"), "hosts": [f"unix://{self.socket}"],
            "bridge": "none", "iptables": False, "ip6tables": False, "ip-forward": False,
            "ip-masq": False, "userland-proxy": False,
            "cgroup-parent": "/" + self.cgroup_parent,
            "exec-opts": ["native.cgroupdriver=cgroupfs"], "storage-driver": "overlay2",
        })
        self.config_path = self.dir / "daemon.json"
        self.config_path.write_text(json.dumps(self.config, indent=2))
        self.client_config = self.dir / "client"
        self.client_config.mkdir()

    def runtime_names(self):
        return list(json.loads(snippet("docker-daemon.json"))["runtimes"])

    def start(self):
        self._spawn([DOCKERD, "--config-file", str(self.config_path)])
        _wait_for("dockerd", lambda: self.docker("info").returncode == 0, 60, self.log_path)
        return self

    def env(self):
        return dict(os.environ, DOCKER_HOST=f"unix://{self.socket}",
                    DOCKER_CONFIG=str(self.client_config))

    def docker(self, *args, timeout=120, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run([DOCKER, *args], timeout=timeout, env=self.env(), **kw)

    def import_image(self, archive):
        ok(self.docker("load", "-i", str(archive)))

    def empty(self):
        ids = self.docker("ps", "-aq").stdout.split()
        if ids:
            self.docker("rm", "-f", *ids)
        self.docker("network", "prune", "-f")

    def cleanup(self):
        return [f"cgroup left: {d}" for d in remove_cgroup_tree(self.cgroup_parent)]
