"""The Kubernetes path: the CRI v1 gRPC API on containerd's socket, driven as kubelet drives it
(RunPodSandbox with the runtime handler of scripts/engines/runtimeclass.yaml, CreateContainer
twice in the pod, StartContainer, ExecSync, ContainerStats, UpdateContainerResources,
StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox). containerd's CRI plugin is
configured from scripts/engines/containerd-cri.toml, so its runc v2 shim calls pyrunc for the
pause container and for both containers; the pod's network comes from pyrunc-cni as the CNI
plugin. The daemon is this module's own (engineutil.Containerd with cri=True)."""
import os
import threading
import uuid

import grpc
import pytest
import yaml
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from cgutil import read
from conftest import containers_in, read_file, wait_until
from engineutil import SNIPPETS, Containerd, remove_cgroup_tree, running
from netutil import bridge_ports

# cgroup: they read the containers' cgroup files, and run in the cgroup-v2 guest too.
pytestmark = [pytest.mark.engine, pytest.mark.cgroup, pytest.mark.root]

IMAGE = "localhost/pyrunc-busybox:latest"
PAUSE_IMAGE = "localhost/pyrunc-pause:latest"
SUBNET = "10.234.2.0/24"


def runtime_class():
    with open(SNIPPETS / "runtimeclass.yaml") as f:
        return yaml.safe_load(f)


class Cri:
    """A CRI client on the daemon's socket, and the cgroup parent its pods live under."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.channel = grpc.insecure_channel(f"unix://{daemon.socket}")
        self.rt = cri_grpc.RuntimeServiceStub(self.channel)
        self.cgroup_parent = f"pyrunc-cri-{daemon.tag}"
        self.handler = runtime_class()["handler"]

    # kubelet's defaults: the pod shares its network and IPC namespaces, each container has
    # its own pid namespace (unless shareProcessNamespace).
    NAMESPACES = cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER, ipc=cri.POD)

    def pod_config(self, name):
        uid = uuid.uuid4().hex
        return cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name=name, uid=uid, namespace="pyrunc-test"),
            hostname=name, log_directory=str(self.daemon.dir / "pod-logs" / uid),
            linux=cri.LinuxPodSandboxConfig(
                cgroup_parent=f"/{self.cgroup_parent}/pod{uid}",
                security_context=cri.LinuxSandboxSecurityContext(
                    namespace_options=self.NAMESPACES)))

    def run_pod(self, name):
        config = self.pod_config(name)
        pod = self.rt.RunPodSandbox(cri.RunPodSandboxRequest(
            config=config, runtime_handler=self.handler), timeout=120).pod_sandbox_id
        return pod, config

    def create_and_start(self, pod, pod_config, name, command, resources=None,
                         capabilities=None):
        config = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=name), image=cri.ImageSpec(image=IMAGE),
            command=command, log_path=f"{name}.log",
            linux=cri.LinuxContainerConfig(
                resources=resources, security_context=cri.LinuxContainerSecurityContext(
                    namespace_options=self.NAMESPACES, capabilities=capabilities)))
        container = self.rt.CreateContainer(cri.CreateContainerRequest(
            pod_sandbox_id=pod, config=config, sandbox_config=pod_config),
            timeout=120).container_id
        self.rt.StartContainer(cri.StartContainerRequest(container_id=container), timeout=120)
        return container

    def exec_sync(self, container, *cmd):
        return self.rt.ExecSync(cri.ExecSyncRequest(container_id=container, cmd=list(cmd),
                                                    timeout=30), timeout=60)

    def pid_of(self, container):
        import json
        status = self.rt.ContainerStatus(cri.ContainerStatusRequest(
            container_id=container, verbose=True), timeout=30)
        return json.loads(status.info["info"])["pid"]

    def remove_pod(self, pod, containers):
        for container in containers:
            self.rt.StopContainer(cri.StopContainerRequest(container_id=container, timeout=2),
                                  timeout=60)
            self.rt.RemoveContainer(cri.RemoveContainerRequest(container_id=container),
                                    timeout=60)
        self.rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
        self.rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)

    def leftovers(self):
        """What pods removed through the CRI must not leave: pyrunc state, cgroups, veths,
        leases, network namespaces, processes."""
        left = []
        state_root = os.path.join(self.daemon.pyrunc_root, "k8s.io")
        if containers_in(state_root):
            left.append(f"pyrunc state: {containers_in(state_root)}")
        for top, dirs, _ in os.walk("/sys/fs/cgroup"):
            if f"/{self.cgroup_parent}/" in top + "/" and os.path.basename(top) != \
                    self.cgroup_parent:
                left.append(f"cgroup: {top}")
            if top.count("/") > 7:
                dirs[:] = []
        ports = bridge_ports(self.daemon.bridge)
        if ports:
            left.append(f"bridge ports: {ports}")
        for dirpath, _, files in os.walk(self.daemon.leases):
            for f in files:  # pyrunc.network.ipam: `<id> <ifname> <address>`, a lease a line
                with open(os.path.join(dirpath, f)) as fh:
                    left += [f"lease: {line.strip()}" for line in fh
                             if len(line.split()) == 3]
        netns_dir = self.daemon.dir / "state" / "io.containerd.grpc.v1.cri" / "netns"
        if netns_dir.is_dir() and os.listdir(netns_dir):
            left.append(f"netns: {os.listdir(netns_dir)}")
        tasks = str(self.daemon.dir / "state" / "io.containerd.runtime.v2.task")
        with open("/proc/self/mountinfo") as f:
            left += [f"mount: {line.split()[4]}" for line in f if tasks in line.split()[4]]
        for entry in os.listdir("/proc"):
            cgroup = read_file(f"/proc/{entry}/cgroup", "r") if entry.isdigit() else None
            if cgroup and f"/{self.cgroup_parent}/" in cgroup:
                left.append(f"process {entry}: {read_file(f'/proc/{entry}/cmdline')!r}")
        return left


@pytest.fixture(scope="module")
def crid(busybox_rootfs):
    with running(Containerd(cri=True, subnet=SUBNET)) as daemon:
        client = Cri(daemon)
        try:
            for image, cmd in ((IMAGE, ["/bin/sh"]),
                               # A pause image: any command that keeps running serves.
                               (PAUSE_IMAGE, ["/bin/sleep", "2000000000"])):
                daemon.import_rootfs(busybox_rootfs, image, cmd, namespace="k8s.io")
            yield client
            left = client.leftovers()
            assert not left, left
        finally:
            remove_cgroup_tree(client.cgroup_parent)  # the pods' parent, kubelet's in real life


def test_the_runtime_class_names_the_containerd_handler():
    spec = runtime_class()
    assert spec["kind"] == "RuntimeClass" and spec["apiVersion"] == "node.k8s.io/v1"
    assert spec["handler"] == Containerd.handler() == spec["metadata"]["name"]


def test_a_pod_of_two_containers(crid):
    pod, pod_config = crid.run_pod("pod-a")
    status = crid.rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod),
                                      timeout=30).status
    assert status.state == cri.SANDBOX_READY
    assert status.network.ip.startswith("10.234.2."), status.network
    assert status.runtime_handler == crid.handler

    web = crid.create_and_start(pod, pod_config, "web", ["httpd", "-f", "-p", "8080", "-h",
                                                         "/etc"],
                                resources=cri.LinuxContainerResources(
                                    memory_limit_in_bytes=64 << 20))
    client = crid.create_and_start(pod, pod_config, "client", ["sleep", "1000"])
    containers = [web, client]
    try:
        # The leftover check sees a live pod in every place it looks.
        seen = {line.split(":")[0].split()[0] for line in crid.leftovers()}
        assert seen >= {"pyrunc", "cgroup", "bridge", "lease", "netns", "mount", "process"}, seen
        # One network namespace for the pod: the client reaches the web server on localhost,
        # and both see the address pyrunc-cni gave the sandbox.
        assert wait_until(lambda: crid.exec_sync(
            client, "wget", "-qO-", "http://127.0.0.1:8080/hostname").exit_code == 0)
        result = crid.exec_sync(client, "wget", "-qO-", "http://127.0.0.1:8080/hostname")
        assert result.stdout.decode().strip() == "pod-a"
        result = crid.exec_sync(web, "ip", "-4", "-o", "addr", "show", "eth0")
        assert status.network.ip + "/24" in result.stdout.decode(), result.stdout
        # ...but each container its own pid namespace (kubelet's default).
        result = crid.exec_sync(client, "sh", "-c", "echo $$; tr '\\0' ' ' < /proc/1/cmdline")
        assert result.stdout.decode().split("\n")[1].strip() == "sleep 1000"
        failing = crid.exec_sync(client, "sh", "-c", "echo oops >&2; exit 4")
        assert (failing.exit_code, failing.stderr) == (4, b"oops\n")

        web_pid = crid.pid_of(web)
        assert read(web_pid, "memory", "memory.limit_in_bytes", "memory.max") == str(64 << 20)
        stats = crid.rt.ContainerStats(cri.ContainerStatsRequest(container_id=web),
                                       timeout=30).stats
        assert stats.attributes.id == web
        assert stats.memory.usage_bytes.value > 0
        assert stats.cpu.usage_core_nano_seconds.value > 0

        # UpdateContainerResources: the shim's `update --resources -`.
        crid.rt.UpdateContainerResources(cri.UpdateContainerResourcesRequest(
            container_id=web, linux=cri.LinuxContainerResources(
                memory_limit_in_bytes=96 << 20, cpu_quota=50000, cpu_period=100000)),
            timeout=30)
        assert read(web_pid, "memory", "memory.limit_in_bytes", "memory.max") == str(96 << 20)
        assert read(web_pid, "cpu", "cpu.cfs_quota_us", "cpu.max").split()[0] == "50000"
    finally:
        crid.remove_pod(pod, containers)
    assert wait_until(lambda: not crid.leftovers(), timeout=15), crid.leftovers()


@pytest.mark.parametrize("command,linux,expected", [
    (["/no/such/program"], {}, "exec '/no/such/program'"),
    (["true"], {"capabilities": cri.Capability(add_capabilities=["BOGUS"])},
     "unknown capability 'CAP_BOGUS'"),
    (["true"], {"resources": cri.LinuxContainerResources(memory_limit_in_bytes=4096)},
     "linux.resources.memory.limit: 4096 bytes is too low"),
], ids=["missing-command", "bad-capability", "memory-too-low"])
def test_pyrunc_errors_reach_the_cri_caller(crid, command, linux, expected):
    pod, pod_config = crid.run_pod("pod-err")
    try:
        with pytest.raises(grpc.RpcError) as info:
            crid.create_and_start(pod, pod_config, "bad", command, **linux)
        assert expected in info.value.details(), info.value.details()
    finally:
        crid.remove_pod(pod, [c.id for c in crid.rt.ListContainers(cri.ListContainersRequest(
            filter=cri.ContainerFilter(pod_sandbox_id=pod)), timeout=30).containers])
    assert wait_until(lambda: not crid.leftovers(), timeout=15), crid.leftovers()


# The cgroup-v2 guest runs under TCG (no usable KVM here), some 20 times slower than the host:
# there kubelet's RPC deadlines would measure the emulator, not pyrunc, so the guest runs the
# same sequence with fewer pods; the twenty-pod load is the host's.
PARALLEL_PODS = 4 if os.environ.get("PYRUNC_IN_VM") == "1" else 20


def test_twenty_pods_in_parallel(crid):
    """20 pods of 2 containers each, created and removed at once: all succeed, nothing stays."""
    errors = []

    def one(i):
        pod, containers = None, []
        try:
            pod, pod_config = crid.run_pod(f"par-{i}")
            containers = [crid.create_and_start(pod, pod_config, n, ["sleep", "1000"])
                          for n in ("a", "b")]
            result = crid.exec_sync(containers[1], "sh", "-c", "echo $$")
            assert result.exit_code == 0
            crid.remove_pod(pod, containers)
        except Exception as e:  # noqa: BLE001 - collected and reported below
            errors.append(f"pod {i}: {e!r}"[:500])
            if pod is not None:  # so that one failure does not become the module's leftovers
                try:
                    crid.remove_pod(pod, containers)
                except Exception as e2:  # noqa: BLE001
                    errors.append(f"pod {i} removal: {e2!r}"[:500])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL_PODS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    pods = crid.rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items
    assert not [p for p in pods if p.metadata.name.startswith("par-")]
    assert wait_until(lambda: not crid.leftovers(), timeout=30), crid.leftovers()
