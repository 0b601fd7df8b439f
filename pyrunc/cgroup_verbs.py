"""The CLI verbs over a container's cgroups: update, pause, resume, ps, events. Kept apart from
commands.py because engines call them rarely (never while starting a container) and they need
more parsing (units, runc's update flags, ps output)."""
import os
import sys

from pyrunc import jsonio
from pyrunc.errors import UsageError

# runc update's flags: option destination -> (resources path, value kind)
UPDATE_FLAGS = {
    "memory": (("memory", "limit"), "bytes"),
    "memory_swap": (("memory", "swap"), "bytes"),
    "memory_reservation": (("memory", "reservation"), "bytes"),
    "kernel_memory": (("memory", "kernel"), "bytes"),
    "kernel_memory_tcp": (("memory", "kernelTCP"), "bytes"),
    "cpu_share": (("cpu", "shares"), "int"),
    "cpu_quota": (("cpu", "quota"), "int"),
    "cpu_period": (("cpu", "period"), "int"),
    "cpu_burst": (("cpu", "burst"), "int"),
    "cpu_rt_period": (("cpu", "realtimePeriod"), "int"),
    "cpu_rt_runtime": (("cpu", "realtimeRuntime"), "int"),
    "cpu_idle": (("cpu", "idle"), "int"),
    "cpuset_cpus": (("cpu", "cpus"), "str"),
    "cpuset_mems": (("cpu", "mems"), "str"),
    "pids_limit": (("pids", "limit"), "int"),
    "blkio_weight": (("blockIO", "weight"), "int"),
}


def update_resources(o):
    """The LinuxResources an `update` asks for: --resources FILE (or - for stdin), then the
    single-value flags on top."""
    from pyrunc.units import parse_bytes
    resources = {}
    if o.get("resources"):
        source = o["resources"]
        try:
            if source == "-":
                text = sys.stdin.buffer.read()
            else:
                with open(source, "rb") as f:
                    text = f.read()
            resources = jsonio.loads(text)
        except (OSError, ValueError) as e:
            raise UsageError(f"--resources {source}: {e}") from None
        if not isinstance(resources, dict):
            raise UsageError(f"--resources {source}: must hold a JSON object (LinuxResources)")
        _pids_zero_is_unset(resources)
    for dest, ((section, key), kind) in UPDATE_FLAGS.items():
        value = o.get(dest)
        if value is None:
            continue
        flag = "--" + dest.replace("_", "-")
        if kind == "bytes":
            value = parse_bytes(value, flag)
        elif kind == "int":
            try:
                value = int(value)
            except ValueError:
                raise UsageError(f"{flag}: {value!r} is not an integer") from None
        resources.setdefault(section, {})[key] = value
    if not resources:
        raise UsageError("update: nothing to update (give --resources or a flag such as --memory)")
    return resources


def _pids_zero_is_unset(resources):
    """In update's JSON, pids.limit 0 leaves the limit alone: Docker 20.10 sends 0 in every
    field the user did not change, and runc's update reads it so. A limit of 0 (runtime-spec
    1.3: a real value, as at create) is set by --pids-limit 0 only."""
    pids = resources.get("pids")
    if isinstance(pids, dict) and pids.get("limit") == 0 and not isinstance(pids["limit"], bool):
        resources["pids"] = {k: v for k, v in pids.items() if k != "limit"}


def cmd_update(g, o, root):
    from pyrunc.container import Container
    c = Container.load(o["container_id"], root)  # a missing container is said before bad flags
    c.update(update_resources(o))
    return 0


def cmd_pause(g, o, root):
    from pyrunc.container import Container
    # Container, not Container.load: pause and resume lock and load the state themselves.
    Container(o["container_id"], root).pause()
    return 0


def cmd_resume(g, o, root):
    from pyrunc.container import Container
    Container(o["container_id"], root).resume()
    return 0


def cmd_ps(g, o, root):
    """runc ps: the container's pids as JSON, or ps(1)'s table cut down to them."""
    from pyrunc.container import Container
    pids = Container(o["container_id"], root).processes()
    if o.get("format") == "json":
        sys.stdout.write(jsonio.dumps(pids) + "\n")
        return 0
    import subprocess
    args = list(o.get("ps_args") or ()) or ["-ef"]
    try:
        out = subprocess.run(["ps", *args], capture_output=True, text=True, check=True,
                             timeout=30).stdout
    except subprocess.TimeoutExpired:
        raise UsageError(f"ps {' '.join(args)}: no answer within 30 s") from None
    except (OSError, subprocess.CalledProcessError) as e:
        raise UsageError(f"ps {' '.join(args)}: {getattr(e, 'stderr', '') or e}") from None
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    if "PID" not in header:
        raise UsageError(f"ps {' '.join(args)}: its output has no PID column")
    column = header.index("PID")
    wanted = {str(p) for p in pids}
    sys.stdout.write(lines[0] + "\n")
    for line in lines[1:]:
        fields = line.split(None, column + 1)
        if len(fields) > column and fields[column] in wanted:
            sys.stdout.write(line + "\n")
    return 0


def cmd_events(g, o, root):
    from pyrunc import events
    from pyrunc.units import parse_duration
    interval = parse_duration(o.get("interval") or "5s", "--interval")
    return events.stream(o["container_id"], root, interval, o.get("stats", False),
                         _write_line)


def _write_line(obj):
    os.write(1, (jsonio.dumps(obj) + "\n").encode())
