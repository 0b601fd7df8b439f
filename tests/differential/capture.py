"""scripts/capture-engine-configs' body: capture the engines' config.json for the harness.

A wrapper named `runc` (so that podman and containerd treat it as runc) copies
<bundle>/config.json on every `create` and execs the real runc. The captured configs are made
host-independent before they are written (placeholders() below):

- root.path -> @ROOTFS@; process.args -> the probe (the engine's command was `true`);
- linux.cgroupsPath -> @CGROUPS_PATH@ (the harness gives each runtime its own);
- a namespace joined by path -> @NS_<TYPE>@ (the harness makes a holder process with new
  namespaces and fills in /proc/<pid>/ns/<type>: the pod's namespaces, as a CRI sandbox's);
- the source of a bind mount from the engine's own directories (hosts, resolv.conf, hostname,
  .containerenv, the pod's shm) -> @BUNDLE@/data/file/<name> or @BUNDLE@/data/dir/<name>,
  which the harness creates;
- hooks are dropped: they name the engine's own binaries (Docker's libnetwork-setkey), which
  cannot run without it.
"""
import argparse
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
sys.path[:0] = [os.path.join(TESTS, "integration"), TESTS]

IMAGE = "localhost/pyrunc-busybox:latest"
PAUSE_IMAGE = "localhost/pyrunc-pause:latest"
RUNC = "/usr/sbin/runc"
CONFORMANCE = "/var/cache/oci-conformance/runtime-tools"
# runtime-tools' programs whose configs are captured (the generator's default config, and the
# ones that change the fields the probe sees).
RUNTIME_TOOLS = ["default", "process", "process_capabilities", "process_rlimits", "process_user",
                 "process_oom_score_adj", "linux_masked_paths", "linux_readonly_paths",
                 "linux_sysctl", "mounts", "root_readonly_true", "hostname", "linux_devices"]
# Host paths that stay as they are in bind sources: the same on every host.
SYSTEM_PREFIXES = ("/dev/", "/proc", "/sys")
# Bind-mount destinations that are files (the engines' hosts, resolv.conf...); others are dirs.
FILE_DESTINATIONS = {"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run/.containerenv",
                     "/dev/termination-log"}

WRAPPER = """#!/bin/sh
# Written by scripts/capture-engine-configs: keep a copy of each created bundle's config.json.
bundle=.
prev=
create=0
for a in "$@"; do
    case $prev in --bundle|-b) bundle=$a ;; esac
    case $a in --bundle=*) bundle=${a#--bundle=} ;; create) create=1 ;; esac
    prev=$a
done
if [ "$create" = 1 ] && [ -f "$bundle/config.json" ]; then
    cp "$bundle/config.json" "%(out)s/$(date +%%s%%N).json"
fi
exec %(runc)s "$@"
"""


def make_wrapper(workdir, name):
    out = os.path.join(workdir, f"captured-{name}")
    os.makedirs(out)
    bindir = os.path.join(workdir, f"bin-{name}")
    os.makedirs(bindir)
    path = os.path.join(bindir, "runc")
    with open(path, "w") as f:
        f.write(WRAPPER % {"out": out, "runc": RUNC})
    os.chmod(path, 0o755)
    return path, out


def captured(out):
    result = []
    for path in sorted(glob.glob(os.path.join(out, "*.json"))):
        with open(path) as f:
            result.append(json.load(f))
    return result


def _is_bind(m):
    return m.get("type") == "bind" or any(o in ("bind", "rbind") for o in m.get("options") or [])


def placeholders(config):
    """The captured config, host-independent (see the module docstring)."""
    c = copy.deepcopy(config)
    c["root"]["path"] = "@ROOTFS@"
    process = c.setdefault("process", {})
    process["args"] = ["/probe"]
    process["terminal"] = False
    process.pop("consoleSize", None)
    c.pop("hooks", None)
    linux = c.setdefault("linux", {})
    if linux.get("cgroupsPath"):
        linux["cgroupsPath"] = "@CGROUPS_PATH@"
    for ns in linux.get("namespaces", []):
        if ns.get("path"):
            ns["path"] = f"@NS_{ns['type'].upper()}@"
    for m in c.get("mounts", []):
        source = m.get("source") or ""
        if _is_bind(m) and source.startswith("/") and not source.startswith(SYSTEM_PREFIXES):
            # The engine removed its files with the container: tell a file from a directory by
            # where it goes.
            dest = m.get("destination") or ""
            kind = "file" if dest in FILE_DESTINATIONS or dest.startswith("/etc/") else "dir"
            m["source"] = f"@BUNDLE@/data/{kind}/{os.path.basename(source.rstrip('/'))}"
    for key, value in (c.get("annotations") or {}).items():
        if isinstance(value, str):  # the CRI's log directory, under the daemon's own dir
            c["annotations"][key] = re.sub(r"/tmp/pyrunc-[\w-]+", "@BUNDLE@/engine", value)
    return c


def write(out_dir, name, config):
    path = os.path.join(out_dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(placeholders(config), f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"capture: {path}")


def _ok(result, what):
    if result.returncode != 0:
        raise SystemExit(f"capture: {what} failed ({result.returncode}):\n{result.stdout}\n"
                         f"{result.stderr}")
    return result


# -- the engines ------------------------------------------------------------------------------

def podman(workdir, out_dir, rootfs):
    wrapper, out = make_wrapper(workdir, "podman")
    _ok(subprocess.run([os.path.join(REPO, "scripts", "prepare-podman")], capture_output=True,
                       text=True), "scripts/prepare-podman")
    env = dict(os.environ, CONTAINERS_CONF="/etc/pyrunc-test/containers.conf")
    variants = {
        "podman-default": [],
        "podman-restricted": ["--read-only", "--user", "1000:1000", "--cap-drop", "ALL",
                              "--cap-add", "NET_BIND_SERVICE", "--security-opt",
                              "no-new-privileges", "--pids-limit", "50", "--memory", "64m",
                              "--tmpfs", "/scratch", "--hostname", "restricted",
                              "--env", "A=1", "--workdir",
                              "/tmp"],
    }
    for name, flags in variants.items():
        before = len(captured(out))
        _ok(subprocess.run(["podman", "--runtime", wrapper, "run", "--rm", "--network", "none",
                            *flags, IMAGE, "true"], env=env, capture_output=True, text=True,
                           timeout=120), f"podman run ({name})")
        write(out_dir, name, captured(out)[before])


def ctr(workdir, out_dir, rootfs):
    from engineutil import Containerd, running
    wrapper, out = make_wrapper(workdir, "ctr")
    with running(Containerd()) as daemon:
        daemon.import_rootfs(rootfs, IMAGE, ["/bin/sh"])
        variants = {
            "ctr-default": [],
            "ctr-options": ["--read-only", "--memory-limit", str(64 << 20), "--env", "A=1",
                            "--cwd", "/tmp", "--seccomp", "--cap-add", "CAP_SYS_ADMIN"],
        }
        for i, (name, flags) in enumerate(variants.items()):
            before = len(captured(out))
            _ok(daemon.ctr("run", "--rm", *flags, "--runc-binary", wrapper, "--runc-root",
                           daemon.pyrunc_root, IMAGE, f"pyrunc-capture-{daemon.tag}-{i}",
                           "true"), f"ctr run ({name})")
            write(out_dir, name, captured(out)[before])


def docker(workdir, out_dir, rootfs):
    from engineutil import Dockerd, running
    wrapper, out = make_wrapper(workdir, "docker")
    daemon = Dockerd()
    daemon.config["runtimes"]["capture"] = {"path": wrapper}
    daemon.config_path.write_text(json.dumps(daemon.config, indent=2))
    with running(daemon):
        daemon.import_rootfs(rootfs, IMAGE, ["/bin/sh"])
        variants = {
            "docker-default": [],
            "docker-options": ["--read-only", "--user", "1000", "--cap-drop", "ALL",
                               "--memory", "64m", "--pids-limit", "50", "--tmpfs", "/scratch",
                               "--ulimit", "nofile=1024:2048", "--shm-size", "8m",
                               "--sysctl", "net.ipv4.ping_group_range=0 0"],
        }
        for name, flags in variants.items():
            before = len(captured(out))
            _ok(daemon.docker("run", "--rm", "--runtime", "capture", "--network", "none",
                              *flags, IMAGE, "true"), f"docker run ({name})")
            write(out_dir, name, captured(out)[before])


def cri(workdir, out_dir, rootfs):
    from engineutil import Containerd, remove_cgroup_tree, running, toml_text
    from test_cri import Cri
    wrapper, out = make_wrapper(workdir, "cri")
    daemon = Containerd(cri=True, subnet="10.234.7.0/24")
    plugin = daemon.config["plugins"]["io.containerd.grpc.v1.cri"]
    plugin["containerd"]["runtimes"][daemon.handler()]["options"]["BinaryName"] = wrapper
    daemon.config_path.write_text(toml_text(daemon.config) + "\n")
    with running(daemon):
        client = Cri(daemon)
        try:
            for image, cmd in ((IMAGE, ["/bin/sh"]), (PAUSE_IMAGE, ["/bin/sleep", "2000000000"])):
                daemon.import_rootfs(rootfs, image, cmd, namespace="k8s.io")
            pod, pod_config = client.run_pod("capture")
            container = client.create_and_start(pod, pod_config, "c1", ["true"])
            time.sleep(1)
            client.remove_pod(pod, [container])
        finally:
            remove_cgroup_tree(client.cgroup_parent)
    configs = captured(out)
    write(out_dir, "cri-sandbox", configs[0])
    write(out_dir, "cri-container", configs[1])


def runtime_tools(workdir, out_dir, rootfs):
    if not os.path.isdir(os.path.join(CONFORMANCE, "validation")):
        _ok(subprocess.run([os.path.join(REPO, "..", "shared", "conformance", "build")],
                           capture_output=True, text=True), "runtime-tools' build")
    wrapper, out = make_wrapper(workdir, "runtime-tools")
    tmp = tempfile.mkdtemp(prefix="pyrunc-capture-rt-", dir="/tmp")
    existing = subprocess.run([RUNC, "list", "-q"], capture_output=True, text=True).stdout.split()
    try:
        for name in RUNTIME_TOOLS:
            before = len(captured(out))
            subprocess.run([f"./validation/{name}/{name}.t"], cwd=CONFORMANCE,
                           env=dict(os.environ, RUNTIME=wrapper, TMPDIR=tmp),
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
            seen = []
            for config in captured(out)[before:]:
                shaped = placeholders(config)
                if shaped not in seen:
                    seen.append(shaped)
                    write(out_dir, f"runtime-tools-{name}-{len(seen)}", config)
    finally:
        # The programs delete their containers; force-delete any a failing one left in runc's
        # default root.
        after = subprocess.run([RUNC, "list", "-q"], capture_output=True, text=True).stdout
        for cid in set(after.split()) - set(existing):
            subprocess.run([RUNC, "delete", "--force", cid], capture_output=True)
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if line.split()[4].startswith(tmp)]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


ENGINES = {"podman": podman, "ctr": ctr, "docker": docker, "cri": cri,
           "runtime-tools": runtime_tools}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="scripts/capture-engine-configs")
    ap.add_argument("--only", default=",".join(ENGINES))
    ap.add_argument("--out", default=os.path.join(HERE, "configs"))
    args = ap.parse_args(argv)
    from pyrunc.builtin_rootfs import ensure_bundle
    rootfs = os.path.join(ensure_bundle(), "rootfs")
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="pyrunc-capture-", dir="/tmp")
    try:
        for name in args.only.split(","):
            ENGINES[name](workdir, args.out, rootfs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
