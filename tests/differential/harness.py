"""Differential harness: runc as the oracle for pyrunc (issue #12, item 3).

The same config runs under runc and under pyrunc, each in a bundle of its own (a fresh copy of
the built-in busybox rootfs with the probe, tests/differential/probe.sh, at /probe) and with a
state root of its own, through the same lifecycle: create, state, start, state, let the probe
finish, wait for its exit, state, delete. The probe prints what the process sees (see probe.sh);
it then waits on a fifo, so that the state after `start` is "running" for both.

Compared, per config:
- the outcome: both refuse (fine: both messages are kept), one refuses (a difference), both run;
- when both run: every step's exit code, the normalised state JSON at each step, the container's
  exit code and the probe's lines, key by key.

Every difference is looked up in expected_differences.yaml (see `Table`): explained ones are
counted, the others fail the run, and so does an entry that could have matched in this run (its
`applies` held for a config whose outcome could show it) but never did.

This module is the library; scripts/differential is the command, and
tests/integration/test_differential.py runs a CI-sized count through it. The harness must be
the child subreaper of the containers (it waits for their exit codes), so it runs in a process
of its own, never inside pytest.
"""
import copy
import ctypes
import errno
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

from cgroup_tree import remove_cgroup_tree

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "probe.sh")
TABLE = os.path.join(HERE, "expected_differences.yaml")
CONFIGS = os.path.join(HERE, "configs")
RUNC = "/usr/sbin/runc"
PR_SET_CHILD_SUBREAPER = 36
STEP_TIMEOUT = 30
EXIT_TIMEOUT = 10

# What /probe.d/ lists for every config, on top of the config's own paths and sysctls. Not
# net.ipv4.ip_forward: a new network namespace copies the host's, which other tests change.
DEFAULT_PATHS = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                 "/proc/scsi", "/proc/acpi", "/sys/firmware", "/proc/sys", "/proc/sysrq-trigger",
                 "/proc/bus", "/proc/fs", "/proc/irq", "/etc/hostname", "/tmp"]
DEFAULT_SYSCTLS = ["kernel.shmmax", "kernel.msgmax", "kernel.sem", "fs.mqueue.msg_max",
                   "net.core.somaxconn", "net.ipv4.ping_group_range",
                   "kernel.shm_rmid_forced"]
CGROUP_FILES = ["memory/memory.limit_in_bytes", "memory/memory.soft_limit_in_bytes",
                "memory/memory.memsw.limit_in_bytes", "memory/memory.swappiness",
                "memory/memory.oom_control", "cpu/cpu.shares", "cpu/cpu.cfs_quota_us",
                "cpu/cpu.cfs_period_us", "cpuset/cpuset.cpus", "cpuset/cpuset.mems",
                "pids/pids.max", "devices/devices.list", "freezer/freezer.state"]
# State keys of the runtime spec; runc adds rootfs, created and owner, pyrunc may add its own.
STATE_KEYS = ("ociVersion", "id", "status", "pid", "bundle", "annotations")


def become_subreaper():
    """Orphaned container inits are reparented to us, so we can wait for their exit codes."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Reaper:
    """Exit statuses of every child we reaped (containers reparented to us, leftovers)."""

    def __init__(self):
        self.statuses = {}

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.statuses[pid] = os.waitstatus_to_exitcode(status)

    def wait_for(self, pid, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.reap()
            if pid in self.statuses:
                return self.statuses.pop(pid)
            time.sleep(0.005)
        return None


# -- bundles ----------------------------------------------------------------------------------

def fill_placeholders(value, values):
    """Replace @NAME@ placeholders (captured engine configs) in every string of value."""
    if isinstance(value, str):
        for name, text in values.items():
            value = value.replace(f"@{name}@", text)
        return value
    if isinstance(value, list):
        return [fill_placeholders(v, values) for v in value]
    if isinstance(value, dict):
        return {k: fill_placeholders(v, values) for k, v in value.items()}
    return value


def _strings_at(config, *keys):
    """The string items of config[keys...] when it is a list (anything else: none)."""
    value = config
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def make_bundle(workdir, name, config, template_rootfs, placeholders):
    """workdir/name: config.json, rootfs/ (a copy of the template with the probe), data/ (bind
    sources). Returns (bundle path, the config as written)."""
    bundle = os.path.join(workdir, name)
    os.mkdir(bundle)
    rootfs = os.path.join(bundle, "rootfs")
    subprocess.run(["cp", "-a", template_rootfs, rootfs], check=True)
    shutil.copyfile(PROBE, os.path.join(rootfs, "probe"))
    os.chmod(os.path.join(rootfs, "probe"), 0o755)
    probe_d = os.path.join(rootfs, "probe.d")
    os.mkdir(probe_d, 0o755)
    config = fill_placeholders(config, dict(placeholders, BUNDLE=bundle, ROOTFS=rootfs))
    linux = config.get("linux") if isinstance(config.get("linux"), dict) else {}
    paths = DEFAULT_PATHS + _strings_at(linux, "maskedPaths") + _strings_at(linux, "readonlyPaths")
    sysctls = DEFAULT_SYSCTLS + [k for k in (linux.get("sysctl") or {})
                                 if isinstance(linux.get("sysctl"), dict)]
    for fname, items in (("paths", paths), ("sysctls", sysctls), ("cgroup-files", CGROUP_FILES)):
        lines = sorted({i for i in items if i and "\n" not in i and "\0" not in i})
        with open(os.path.join(probe_d, fname), "w") as f:
            f.write("".join(f"{i}\n" for i in lines))
    go = os.path.join(probe_d, "go")
    os.mkfifo(go)
    os.chmod(go, 0o666)  # the probe may run as any uid
    data = os.path.join(bundle, "data")
    os.mkdir(data)
    with open(os.path.join(data, "hostname"), "w") as f:
        f.write("from-data\n")
    # The engines' bind sources (scripts/capture-engine-configs): data/file/X, data/dir/X.
    for m in config.get("mounts") or []:
        source = m.get("source") if isinstance(m, dict) else None
        if not isinstance(source, str):
            continue
        for kind in ("file", "dir"):
            prefix = os.path.join(data, kind) + "/"
            if source.startswith(prefix) and "/" not in source[len(prefix):]:
                os.makedirs(os.path.dirname(source), exist_ok=True)
                if kind == "dir":
                    os.makedirs(source, exist_ok=True)
                elif not os.path.exists(source):
                    with open(source, "w") as f:
                        f.write(f"{os.path.basename(source)} of the engine\n")
    with open(os.path.join(bundle, "config.json"), "w") as f:
        # Floats as Python writes them (Infinity included): both runtimes get the same bytes.
        json.dump(config, f, indent=1)
    return bundle, config


# -- running one runtime ----------------------------------------------------------------------

class Lifecycle:
    """One runtime's run of one bundle: the steps' results, the states, the probe's output."""

    def __init__(self, name, binary, root, bundle, cid, reaper):
        self.name, self.binary, self.root, self.bundle, self.cid = name, binary, root, bundle, cid
        self.reaper = reaper
        self.steps = []          # [(step, exit code, stdout, stderr)]
        self.states = []         # [(after which step, normalised state or None)]
        self.exit_code = None    # the container process's
        self.refused = None      # (step, message) when a lifecycle step failed
        self.stdout = ""
        self.stderr = ""

    def _cmd(self, *args, stdout=None, stderr=None, timeout=STEP_TIMEOUT):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.run([self.binary, "--root", self.root, *args],
                                      stdin=subprocess.DEVNULL, stdout=stdout or out,
                                      stderr=stderr or err, timeout=timeout)
                rc = proc.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            out.seek(0)
            err.seek(0)
            return rc, out.read().decode(errors="replace"), err.read().decode(errors="replace")

    def step(self, name, *args, **kw):
        rc, out, err = self._cmd(*args, **kw)
        self.steps.append((name, rc, out, err))
        if rc != 0 and self.refused is None:
            self.refused = (name, one_line(err or out))
        return rc, out

    def state(self, after):
        rc, out, err = self._cmd("state", self.cid)
        self.states.append((after, normalise_state(out, self) if rc == 0 else None))
        return json.loads(out) if rc == 0 else None

    def run(self):
        # Forget the exits reaped so far: a pid of an earlier run may come back as this one's.
        self.reaper.reap()
        self.reaper.statuses.clear()
        out_path = os.path.join(self.bundle, "stdout")
        err_path = os.path.join(self.bundle, "stderr")
        try:
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                rc, _ = self.step("create", "create", "--bundle", self.bundle, self.cid,
                                  stdout=out, stderr=err)
            if rc != 0:
                self.refused = ("create", one_line(_read(err_path)))
                return self
            self.state("create")
            rc, _ = self.step("start", "start", self.cid)
            state = self.state("start")
            if rc == 0 and state and state.get("pid"):
                self._release_probe(state["pid"])
                self.exit_code = self.reaper.wait_for(state["pid"], EXIT_TIMEOUT)
                if self.exit_code is None:
                    self.exit_code = "timeout"
                    self._cmd("kill", self.cid, "KILL")
                    self.reaper.wait_for(state["pid"], EXIT_TIMEOUT)
                self._wait_stopped()
                self.state("exit")
            self.step("delete", "delete", self.cid)
        finally:
            self._cmd("delete", "--force", self.cid)
            self.stdout, self.stderr = _read(out_path), _read(err_path)
            self.reaper.reap()
        return self

    def _release_probe(self, pid):
        """Open the probe's fifo for writing once it reads it; give up when the process is gone
        (it never got there: another program, or it failed)."""
        go = os.path.join(self.bundle, "rootfs", "probe.d", "go")
        deadline = time.monotonic() + EXIT_TIMEOUT
        while time.monotonic() < deadline:
            try:
                fd = os.open(go, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    return
                self.reaper.reap()
                if pid in self.reaper.statuses:
                    return
                time.sleep(0.003)
                continue
            os.write(fd, b"go\n")
            os.close(fd)
            return

    def _wait_stopped(self):
        deadline = time.monotonic() + EXIT_TIMEOUT
        while time.monotonic() < deadline:
            rc, out, _ = self._cmd("state", self.cid)
            if rc != 0 or json.loads(out).get("status") == "stopped":
                return
            time.sleep(0.01)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def one_line(text):
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def normalise_state(text, run):
    try:
        state = json.loads(text)
    except ValueError:
        return {"unparsable": text[:200]}
    out = {}
    for key in STATE_KEYS:
        value = state.get(key)
        if key == "id" and value == run.cid:
            value = "<id>"
        elif key == "bundle" and value and os.path.realpath(value) == os.path.realpath(run.bundle):
            value = "<bundle>"
        elif key == "pid":
            value = "<pid>" if value else value
        elif key == "annotations":
            # runc omits an empty map; a value may name the bundle (the CRI's log directory).
            value = {k: v.replace(os.path.realpath(run.bundle), "<bundle>")
                     if isinstance(v, str) else v for k, v in value.items()} if value else None
        out[key] = value
    return out


# -- the probe's output -----------------------------------------------------------------------

HOST_NS = {}


def host_namespaces():
    if not HOST_NS:
        for ns in os.listdir("/proc/self/ns"):
            try:
                HOST_NS[ns] = os.readlink(f"/proc/self/ns/{ns}")
            except OSError:
                pass
    return HOST_NS


def probe_lines(stdout, run):
    """{key: sorted values} from the probe's stdout, normalised."""
    items = {}
    host = host_namespaces()
    for line in stdout.splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            key, value = line.rstrip(":"), ""
        value = " ".join(value.split())  # tabs of /proc/self/status
        if key.startswith("ns."):
            ns = key[3:]
            if value == host.get(ns):
                value = "host"
            elif re.fullmatch(r"\w+:\[\d+\]", value):
                value = "new"
        value = value.replace(os.path.realpath(run.bundle), "<bundle>")
        value = value.replace(run.cid, "<id>")
        items.setdefault(key, []).append(value)
    return {k: sorted(v) for k, v in items.items()}


# The runtimes' own lines: runc's logrus lines and its init's "exec <program>: <error>" (a
# program it could not exec), pyrunc's "pyrunc: " and "pyrunc init: " lines.
RUNTIME_LOG = re.compile(r'^(time="[^"]*" level=|exec \S+: |pyrunc: |pyrunc init: )')


def container_stderr(run):
    """The container's stderr lines: create's stderr is also the runtime's, whose own lines
    (runc's logrus lines, pyrunc's "pyrunc: " ones) are left out."""
    return [line.replace(os.path.realpath(run.bundle), "<bundle>").replace(run.cid, "<id>")
            for line in run.stderr.splitlines() if line and not RUNTIME_LOG.match(line)]


# -- comparing --------------------------------------------------------------------------------

def compare(runc, pyrunc):
    """[difference dicts] between two Lifecycles of the same config."""
    diffs = []
    if runc.refused or pyrunc.refused:
        r_step = runc.refused[0] if runc.refused else None
        p_step = pyrunc.refused[0] if pyrunc.refused else None
        if r_step != p_step:
            diffs.append({"kind": "outcome", "key": f"runc:{r_step or 'runs'} "
                          f"pyrunc:{p_step or 'runs'}",
                          "runc": runc.refused[1] if runc.refused else "",
                          "pyrunc": pyrunc.refused[1] if pyrunc.refused else ""})
            return diffs
        if r_step == "create":
            return diffs  # both refuse the config
    r_steps = {s[0]: s[1] for s in runc.steps}
    p_steps = {s[0]: s[1] for s in pyrunc.steps}
    for name in sorted(set(r_steps) | set(p_steps)):
        if r_steps.get(name) != p_steps.get(name):
            diffs.append({"kind": "step", "key": name, "runc": str(r_steps.get(name)),
                          "pyrunc": str(p_steps.get(name))})
    r_states, p_states = dict(runc.states), dict(pyrunc.states)
    for after in ("create", "start", "exit"):
        r, p = r_states.get(after), p_states.get(after)
        for key in STATE_KEYS:
            rv = r.get(key) if r else None
            pv = p.get(key) if p else None
            if rv != pv:
                diffs.append({"kind": "state", "key": f"{after}.{key}", "runc": json.dumps(rv),
                              "pyrunc": json.dumps(pv)})
    if runc.exit_code != pyrunc.exit_code:
        diffs.append({"kind": "exit", "key": "exit", "runc": str(runc.exit_code),
                      "pyrunc": str(pyrunc.exit_code)})
    r_err, p_err = container_stderr(runc), container_stderr(pyrunc)
    if r_err != p_err:
        diffs.append({"kind": "stderr", "key": "stderr", "runc": " | ".join(r_err),
                      "pyrunc": " | ".join(p_err)})
    r_probe, p_probe = probe_lines(runc.stdout, runc), probe_lines(pyrunc.stdout, pyrunc)
    for key in sorted(set(r_probe) | set(p_probe)):
        rv, pv = r_probe.get(key), p_probe.get(key)
        if rv != pv:
            diffs.append({"kind": "probe", "key": key, "runc": " | ".join(rv or ["<absent>"]),
                          "pyrunc": " | ".join(pv or ["<absent>"])})
    return diffs


# -- the table of known differences -----------------------------------------------------------

REASONS = {
    "pyrunc-stricter": "pyrunc refuses on purpose what runc accepts",
    "pyrunc-on-purpose": "pyrunc differs on purpose",
    "runc-bug": "a runc 1.1.5 bug: pyrunc does what the config asks",
    "runc-lacks": "runc 1.1.5 lacks the feature (later runc has it); pyrunc implements it",
    "host-limit": "a limit of this host, met differently",
    "pyrunc-bug": "a pyrunc bug, not fixed yet",
    "cosmetic": "the same behaviour, told differently",
}


def config_nodes(config, pattern):
    """The values at a path pattern: dotted keys, [N] or [*] for list items, * for any key."""
    parts = re.findall(r"\[(\*|\d+)\]|\.?([^.\[\]]+)", pattern)
    nodes = [config]
    for index, key in parts:
        nxt = []
        for node in nodes:
            if index:
                if isinstance(node, list):
                    nxt += node if index == "*" else node[int(index):int(index) + 1]
            elif isinstance(node, dict):
                nxt += list(node.values()) if key == "*" else ([node[key]] if key in node else [])
        nodes = nxt
    return nodes


TYPES = {"null": type(None), None: type(None), "bool": bool, "int": int, "float": float, "str": str, "list": list,
         "dict": dict}


def _value_test(value, test):
    if "equals" in test and value != test["equals"]:
        return False
    if "in" in test and value not in test["in"]:
        return False
    if "type" in test:
        kinds = test["type"] if isinstance(test["type"], list) else [test["type"]]
        if not any(type(value) is TYPES[k] for k in kinds):
            return False
    if "regex" in test and not (isinstance(value, str) and re.search(test["regex"], value)):
        return False
    if "contains" in test and not (isinstance(value, list) and test["contains"] in value):
        return False
    if "gt" in test and not (type(value) in (int, float) and value > test["gt"]):
        return False
    if "lt" in test and not (type(value) in (int, float) and value < test["lt"]):
        return False
    if "nonempty" in test and not value:
        return False
    if test.get("unknown_capability"):  # a string no Linux has as a capability name
        from pyrunc.names import CAP_NUMBERS
        if not isinstance(value, str) or value in CAP_NUMBERS:
            return False
    if "fields" in test:  # tests on the keys of one object (one mount, one device...)
        if not isinstance(value, dict):
            return False
        for key, sub in test["fields"].items():
            if sub.get("absent"):
                if key in value:
                    return False
            elif key not in value or not _value_test(value[key], sub):
                return False
    return True


def in_nested_cgroup():
    """True when this process is below the root of some cgroup v1 hierarchy (where runc and
    pyrunc place a container without cgroupsPath differently)."""
    with open("/proc/self/cgroup") as f:
        return any(line.split(":", 2)[1] and line.rstrip("\n").split(":", 2)[2] != "/"
                   for line in f)


HOST_FACTS = {"in-nested-cgroup": in_nested_cgroup}


def applies(condition, config):
    """A condition: {all: [...]}, {any: [...]}, {not: c}, {host: FACT} (HOST_FACTS), or
    {path: P, <tests>}: true when some value at P passes every test (equals, in, type, regex,
    contains, gt, lt, nonempty, unknown_capability, fields: {key: tests}); `absent: true` when P has no value."""
    if "all" in condition:
        return all(applies(c, config) for c in condition["all"])
    if "any" in condition:
        return any(applies(c, config) for c in condition["any"])
    if "not" in condition:
        return not applies(condition["not"], config)
    if "host" in condition:
        return HOST_FACTS[condition["host"]]()
    nodes = config_nodes(config, condition["path"])
    if condition.get("absent"):
        return not nodes
    return any(_value_test(n, condition) for n in nodes)


class Table:
    """expected_differences.yaml: a list of entries, each
        id, reason (a REASONS key), why (text), applies (a condition on the config, see
        applies(); none: every config), match: {kind, key, runc, pyrunc} (regexes; key and the
        values are searched in the difference's fields), flaky (optional: the difference comes
        and goes, so the entry is not required to match).
    An entry explains a difference when it applies to the config and its match matches."""

    def __init__(self, path=TABLE):
        import yaml
        with open(path) as f:
            self.entries = yaml.safe_load(f) or []
        for e in self.entries:
            assert e.get("reason") in REASONS, f"{e.get('id')}: unknown reason {e.get('reason')}"
            assert e.get("id") and e.get("why") and e.get("match"), f"incomplete entry {e}"
        self.matched = {e["id"]: 0 for e in self.entries}
        self.could = {e["id"]: 0 for e in self.entries}

    @staticmethod
    def _matches(match, diff):
        if match.get("kind") and match["kind"] != diff["kind"]:
            return False
        return all(re.search(match[k], diff[k]) for k in ("key", "runc", "pyrunc") if k in match)

    def explain(self, config, diffs, both_ran, both_refused):
        """Mark each diff with the id of the entry that explains it (or None), and count, for
        the stale check, where each entry could have matched."""
        applicable = [e for e in self.entries
                      if "applies" not in e or applies(e["applies"], config)]
        for d in diffs:
            d["explained"] = None
            # Every entry that explains a difference counts as matched; the first names it.
            for e in applicable:
                if self._matches(e["match"], d):
                    d["explained"] = d["explained"] or e["id"]
                    self.matched[e["id"]] += 1
        for e in applicable:
            if e["match"].get("kind") == "outcome":
                # Not when both refused, nor when the outcome differs for another known cause:
                # runc stops at its first error (one cause hides the next).
                could = not both_refused and not any(
                    d["kind"] == "outcome" and d["explained"] for d in diffs)
                could = could or any(d["explained"] == e["id"] for d in diffs)
            else:  # a probe, state, stderr or exit difference shows only when both ran
                could = both_ran
            if could:
                self.could[e["id"]] += 1
        return diffs

    def stale(self):
        """Entries that could have matched in this run and never did (but those marked flaky:
        a runc failure that comes and goes)."""
        flaky = {e["id"] for e in self.entries if e.get("flaky")}
        return [eid for eid in self.matched
                if self.could[eid] and not self.matched[eid] and eid not in flaky]


# -- one config, both runtimes ----------------------------------------------------------------

class Harness:
    def __init__(self, pyrunc, runc=RUNC, table=None, workdir=None, keep=False):
        from pyrunc.builtin_rootfs import ensure_bundle
        self.binaries = {"runc": runc, "pyrunc": pyrunc}
        self.template = os.path.join(ensure_bundle(), "rootfs")
        self.table = table or Table()
        self.reaper = Reaper()
        self.workdir = workdir or tempfile.mkdtemp(prefix="pyrunc-differential-", dir="/tmp")
        self.roots = {}
        for name in self.binaries:
            # Under /run/pyrunc-test*: scripts/test's leftover check looks there.
            self.roots[name] = f"/run/pyrunc-test-differential-{uuid.uuid4().hex[:8]}-{name}"
        self.keep = keep
        self.holder = None

    def namespace_paths(self):
        """@NS_<TYPE>@ of the engine configs: the namespaces of a holder process (a pod's, as
        the CRI's sandbox has them), made on first use."""
        if self.holder is None:
            # The tag in its command line lets the leftover checks find it.
            self.holder = subprocess.Popen(
                ["unshare", "--net", "--ipc", "--uts", "--", "sh", "-c",
                 "exec sleep 3600 # pyrunc-differential holder"], stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if os.readlink(f"/proc/{self.holder.pid}/ns/net") != host_namespaces()["net"]:
                    break
                time.sleep(0.01)
        pid = self.holder.pid
        return {f"NS_{t.upper()}": f"/proc/{pid}/ns/{n}"
                for t, n in (("network", "net"), ("ipc", "ipc"), ("uts", "uts"))}

    def run_config(self, label, config):
        """Run config under both runtimes; returns a result dict."""
        tag = uuid.uuid4().hex[:8]
        runs = {}
        cdir = tempfile.mkdtemp(prefix=f"{label.replace('/', '_')}-", dir=self.workdir)
        try:
            for name, binary in self.binaries.items():
                cid = f"pyrunc-diff-{tag}-{name}"
                placeholders = {"ID": cid, "CGROUPS_PATH": f"/pyrunc-differential/{cid}"}
                if "@NS_" in json.dumps(config):
                    placeholders.update(self.namespace_paths())
                bundle, _ = make_bundle(cdir, name, copy.deepcopy(config), self.template,
                                        placeholders)
                runs[name] = Lifecycle(name, binary, self.roots[name], bundle, cid,
                                       self.reaper).run()
                # runc's and pyrunc's default /<id> and the placeholders' paths all end in
                # the id; they are ours
                remove_cgroup_tree(cid, depth=4)
            runc, pyrunc = runs["runc"], runs["pyrunc"]
            diffs = compare(runc, pyrunc)
            both_ran = not runc.refused and not pyrunc.refused
            both_refused = bool(runc.refused and pyrunc.refused)
            self.table.explain(config, diffs, both_ran, both_refused)
            if not both_ran and not both_refused:
                outcome = "one refuses"
            else:
                outcome = "both refuse" if both_refused else "both run"
            return {"label": label, "outcome": outcome, "diffs": diffs,
                    "runc_error": runc.refused, "pyrunc_error": pyrunc.refused,
                    "runc_exit": runc.exit_code, "pyrunc_exit": pyrunc.exit_code}
        finally:
            if not self.keep:
                shutil.rmtree(cdir, ignore_errors=True)

    def close(self):
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
        for root in self.roots.values():
            if os.path.isdir(root):
                for cid in os.listdir(root):
                    binary = self.binaries["runc" if root.endswith("-runc") else "pyrunc"]
                    subprocess.run([binary, "--root", root, "delete", "--force", cid],
                                   capture_output=True, timeout=STEP_TIMEOUT)
                shutil.rmtree(root, ignore_errors=True)
        remove_cgroup_tree("pyrunc-differential", depth=2)
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.reaper.reap()


def load_engine_configs(directory=CONFIGS):
    """[(label, config)] of the captured engine configs (configs/*.json, sorted)."""
    out = []
    if os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            if name.endswith(".json"):
                with open(os.path.join(directory, name)) as f:
                    out.append((f"engine/{name[:-5]}", json.load(f)))
    return out


def probe_config(base):
    """The base of generated configs: the probe as the process."""
    config = copy.deepcopy(base)
    config["process"]["args"] = ["/probe"]
    return config

