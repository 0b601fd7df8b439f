"""What each CLI verb does, given its parsed options as a plain dict. Both front ends call
these: the click CLI (pyrunc.cli) and the fast path (pyrunc.entry) that serves the verbs
engines call on every container without importing click."""
import os
import sys

from pyrunc import jsonio, state as state_mod
from pyrunc.errors import (ExecFailedError, PidfdSocketError, PyruncError,
                           SystemdUnavailableError, UsageError)


def apply_globals(g):
    from pyrunc import log
    log.configure(g.get("log"), g.get("log_format") or "text", g.get("debug", False))
    if g.get("systemd_cgroup"):
        raise SystemdUnavailableError("--systemd-cgroup: no systemd cgroup driver yet "
                                      "(and this host does not run systemd); use cgroupfs")
    if g.get("log_format") not in (None, "text", "json"):
        raise UsageError(f"--log-format: {g['log_format']!r} is not text or json")


def _root(g):
    return g.get("root") or state_mod.default_root(state_mod.is_rootless(g.get("rootless")))


def _bundle(o):
    if o.get("builtin"):
        from pyrunc.builtin_rootfs import ensure_bundle
        return ensure_bundle()
    return o.get("bundle") or "."


def cmd_create(g, o):
    from pyrunc.container import Container
    Container.create(o["container_id"], _bundle(o), _root(g), o.get("console_socket"),
                     o.get("pid_file"), o.get("no_pivot", False), o.get("no_new_keyring", False),
                     int(o.get("preserve_fds") or 0), state_mod.is_rootless(g.get("rootless")),
                     o.get("trace"), o.get("pidfd_socket"))
    return 0


def cmd_run(g, o):
    from pyrunc.container import Container
    return Container.run(o["container_id"], _bundle(o), _root(g), o.get("console_socket"),
                         o.get("pid_file"), o.get("no_pivot", False),
                         o.get("no_new_keyring", False), int(o.get("preserve_fds") or 0),
                         o.get("detach", False), state_mod.is_rootless(g.get("rootless")),
                         trace=o.get("trace"), keep=o.get("keep", False),
                         no_subreaper=o.get("no_subreaper", False),
                         pidfd_socket=o.get("pidfd_socket"))


def cmd_start(g, o):
    from pyrunc.container import Container
    # Not Container.load: start (like kill and delete) takes the lock and loads the state
    # itself, and says when the container does not exist.
    Container(o["container_id"], _root(g)).start()
    return 0


def cmd_state(g, o):
    # The state module alone (no lock, as runc takes none: state.json is replaced atomically),
    # loaded once: engines poll `state` until a container stops.
    state = state_mod.ContainerState(_root(g), o["container_id"]).load_existing().oci_state()
    sys.stdout.write(_indented(state) + "\n")
    return 0


def cmd_kill(g, o):
    from pyrunc.container import Container
    from pyrunc.names import parse_signal
    try:
        sig = parse_signal(o.get("signal") or "SIGTERM")
    except ValueError as e:
        raise UsageError(str(e)) from None
    Container(o["container_id"], _root(g)).kill(sig, o.get("all", False))
    return 0


def cmd_delete(g, o):
    if o.get("force") and not os.path.isdir(
            state_mod.ContainerState(_root(g), o["container_id"]).dir):
        # runc: delete --force of a missing container is not an error. containerd's shim
        # asks for it after every delete, so it is answered before importing the rest.
        return 0
    from pyrunc.container import Container
    from pyrunc.errors import ContainerNotFoundError
    try:
        Container(o["container_id"], _root(g)).delete(o.get("force", False))
    except ContainerNotFoundError:
        if o.get("force"):
            return 0  # runc: delete --force of a missing container is not an error
        raise
    return 0


def cmd_list(g, o):
    from pyrunc.container import list_containers
    containers = list_containers(_root(g))
    if o.get("quiet"):
        for c in containers:
            sys.stdout.write(c["id"] + "\n")
    elif o.get("format") == "json":
        sys.stdout.write(jsonio.dumps(containers) + "\n")
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(c["id"], str(c["pid"]), c["status"], c["bundle"], c["created"], c["owner"])
                 for c in containers]
        _write_table(rows)
    return 0


def _write_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write("   ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")


def cmd_network_ls(g, o):
    from pyrunc.network import show
    networks = show.describe_all()
    if o.get("format") == "json":
        sys.stdout.write(jsonio.dumps(networks) + "\n")
        return 0
    rows = [("NAME", "BRIDGE", "SUBNETS", "LEASES")]
    rows += [(n["name"], n["bridge"], ",".join(s["subnet"] for s in n["subnets"]),
              str(len({(l["root"], l["container"], l["ifname"]) for l in n["leases"]})))
             for n in networks]
    _write_table(rows)
    return 0


def cmd_network_inspect(g, o):
    from pyrunc.network import show
    sys.stdout.write(jsonio.dumps(show.describe_one(o["name"])) + "\n")
    return 0


def cmd_exec(g, o):
    """runc's exit codes: the process's status; 1 for a command line without a command (before
    anything is looked at); 255 when the exec itself fails, whatever the reason."""
    if not o.get("process") and not o.get("command"):
        raise UsageError("exec: a command (or --process) is required")
    from pyrunc.container import Container
    try:
        c = Container.load(o["container_id"], _root(g))
        process = exec_process(o, c.state)
        result = c.exec(process, o.get("console_socket"), o.get("detach", False),
                        o.get("pid_file"), int(o.get("preserve_fds") or 0),
                        cgroup=o.get("cgroup") or (), ignore_paused=o.get("ignore_paused", False),
                        pidfd_socket=o.get("pidfd_socket"))
    except (ExecFailedError, PidfdSocketError):  # the latter: bad input, exit 1
        raise
    except PyruncError as e:
        raise ExecFailedError(str(e)) from e
    except OSError as e:
        raise ExecFailedError(os_error_text(e)) from e
    return 0 if o.get("detach") else result


def exec_process(o, st):
    """The process for `exec`: --process FILE, or the args with the container's defaults;
    the flags on top."""
    if o.get("process"):
        try:
            with open(o["process"], "rb") as f:
                process = jsonio.loads(f.read())
        except (OSError, ValueError) as e:
            raise UsageError(f"--process {o['process']}: {e}") from None
    else:
        base = st.data.get("config", {}).get("process", {})
        process = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
        process["args"] = list(o["command"])
    if o.get("tty"):
        process["terminal"] = True
    if o.get("cwd"):
        process["cwd"] = o["cwd"]
    if o.get("env"):
        process["env"] = list(process.get("env", [])) + list(o["env"])
    if o.get("user") or o.get("additional_gids"):
        process["user"] = _exec_user(o, dict(process.get("user", {})))
    if o.get("cap"):
        caps = dict(process.get("capabilities", {}))
        # Ambient too only when the process has inheritable ones (the kernel raises an ambient
        # capability only with its inheritable bit; runc's --cap does the same).
        for key in ("bounding", "effective", "permitted") + (
                ("ambient",) if caps.get("inheritable") else ()):
            caps[key] = list(caps.get(key, [])) + list(o["cap"])
        process["capabilities"] = caps
    if o.get("no_new_privs"):
        process["noNewPrivileges"] = True
    for flag, dest, key, lsm_name, enabled in (
            ("--apparmor", "apparmor", "apparmorProfile", "AppArmor", "apparmor_enabled"),
            ("--process-label", "process_label", "selinuxLabel", "SELinux", "selinux_enabled")):
        if o.get(dest):
            from pyrunc import lsm  # only for these flags: not on every exec (probes)
            if not getattr(lsm, enabled)():
                raise UsageError(f"{flag}: {lsm_name} is not enabled on this host")
            process[key] = o[dest]
    return process


def cmd_explain(g, o):
    from pyrunc import explain
    container_id = o.get("container_id")
    if o.get("bundle") or not container_id:
        result = explain.explain_bundle(o.get("bundle") or ".", container_id or "<id>")
    else:
        result = explain.explain_container(_root(g), container_id)
    if o.get("format") == "json":
        sys.stdout.write(jsonio.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(explain.render(result))
    return 0


def _exec_user(o, user):
    """--user UID[:GID] and --additional-gids GID (repeatable, added to the process's own)."""
    if o.get("user"):
        uid, _, gid = o["user"].partition(":")
        try:
            user["uid"] = int(uid)
            if gid:  # without one, the process keeps the config's gid, as runc does
                user["gid"] = int(gid)
        except ValueError:
            raise UsageError(f"--user {o['user']!r}: expected UID[:GID]") from None
    extra = []
    for value in o.get("additional_gids") or ():
        if not value.isdigit():
            raise UsageError(f"--additional-gids {value!r}: not a group id (a non-negative "
                             "integer)")
        extra.append(int(value))
    if extra:
        user["additionalGids"] = list(user.get("additionalGids") or []) + extra
    return user


def cmd_features(g, o):
    from pyrunc.features import features
    sys.stdout.write(_indented(features()) + "\n")
    return 0


def cmd_spec(g, o):
    from pyrunc.spec import default_spec
    bundle = o.get("bundle") or "."
    for name in ("config.json", "config.yaml"):
        path = os.path.join(bundle, name)
        if os.path.exists(path):
            raise PyruncError(f"file {path} exists: remove it first")
    path = os.path.join(bundle, "config.json")
    spec = default_spec(rootless=o.get("rootless", False))
    if o.get("format") == "yaml":
        import yaml
        path = os.path.join(bundle, "config.yaml")
        text = yaml.safe_dump(spec, sort_keys=False)
    else:
        text = jsonio.dumps(spec, indent=2) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return 0


def _indented(obj, depth=0):
    """runc's indented state output, without importing the json package for it."""
    pad = "  " * (depth + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{pad}{jsonio.dumps(k)}: {_indented(v, depth + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    return jsonio.dumps(obj)


def cmd_checkpoint(g, o):
    from pyrunc import checkpoint
    checkpoint.checkpoint(o["container_id"], _root(g), o)
    return 0


def cmd_restore(g, o):
    from pyrunc import checkpoint
    return checkpoint.restore(o["container_id"], _root(g), o)


def _cgroup_verb(name):
    """A verb of pyrunc.cgroup_verbs, imported only when called."""
    def verb(g, o):
        from pyrunc import cgroup_verbs
        return getattr(cgroup_verbs, "cmd_" + name)(g, o, _root(g))
    return verb


VERBS = {
    "create": cmd_create, "run": cmd_run, "start": cmd_start, "state": cmd_state,
    "kill": cmd_kill, "delete": cmd_delete, "list": cmd_list, "exec": cmd_exec, "spec": cmd_spec,
    "features": cmd_features, "explain": cmd_explain, "network-ls": cmd_network_ls,
    "network-inspect": cmd_network_inspect,
    "checkpoint": cmd_checkpoint, "restore": cmd_restore,
    **{name: _cgroup_verb(name) for name in ("update", "pause", "resume", "ps", "events")},
}


def run_verb(verb, g, o):
    """The CLI edge: run one verb; typed errors become one line on stderr (and in --log) and
    exit code 1. A traceback only with --debug."""
    from pyrunc import log
    try:
        apply_globals(g)
        if verb in ("create", "run", "exec"):
            # Before anything of ours is opened (the lock, the channel...): see fds.py.
            from pyrunc.container import reserve_caller_fds
            reserve_caller_fds(int(o.get("preserve_fds") or 0))
        return VERBS[verb](g, o) or 0
    except PyruncError as e:
        return _fail(g, _with_postmortem(verb, g, o, e, str(e)), e.exit_code)
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        if g.get("debug"):
            raise
        return _fail(g, _with_postmortem(verb, g, o, e, os_error_text(e)), 1)
    finally:
        log.configure()


def os_error_text(e):
    """An OSError in one line: its reason, and the file it is about."""
    text = e.strerror or str(e)
    return f"{text}: {e.filename}" if e.filename else text


# The verbs whose failures are kept as post-mortems (postmortem.py), and the errors that are
# not a failure of the container named: a taken or malformed id, a missing container, usage.
POSTMORTEM_VERBS = ("create", "run", "start", "exec")
_NOT_POSTMORTEMS = ("ContainerExistsError", "InvalidIdError", "ContainerNotFoundError",
                    "UsageError", "SystemdUnavailableError")


def _with_postmortem(verb, g, o, exc, message):
    """Keep the failure's post-mortem; the message then says where to read it."""
    container_id = o.get("container_id")
    kinds = {type(exc).__name__, type(exc.__cause__).__name__}  # exec wraps its cause
    if verb not in POSTMORTEM_VERBS or not container_id or kinds & set(_NOT_POSTMORTEMS):
        return message
    from pyrunc import postmortem
    protocol = sys.modules.get("pyrunc.protocol")  # imported only by the init path
    root = _root(g)
    tracer = sys.modules.get("pyrunc.trace")  # imported only when tracing
    trace_path = tracer.last_path() if tracer else None
    if postmortem.record(root, verb, container_id, exc, getattr(protocol, "REACHED", ()),
                         trace_path, message) is None:
        return message
    rootless = state_mod.is_rootless(g.get("rootless"))
    where = "" if root == state_mod.default_root(rootless) else f" --root {root}"
    return f"{message} (post-mortem: pyrunc{where} explain {container_id})"


def _fail(g, message, code):
    from pyrunc import log
    if g.get("debug"):
        import traceback
        traceback.print_exc()
    log.error(message)
    sys.stderr.write(f"pyrunc: {message}\n")
    return code
