"""OCI hooks: each gets the container's state on stdin and may time out. Which process runs
them, and when, follows config.md: prestart/createRuntime by the parent once the namespaces
exist, createContainer in the init before pivot_root, startContainer in the init right before
the user process, poststart by `start`, poststop by `delete`.

`hooks` below is config.json's hooks object (kind -> list of hooks), {} for none."""
from pyrunc import jsonio
from pyrunc.errors import PyruncError


class HookError(PyruncError):
    pass


def has_hooks(hooks, *kinds):
    return any(hooks.get(kind) for kind in kinds)


# After these, a failing hook is logged and the others still run (runtime.md).
WARN_ONLY = ("poststart", "poststop")

# A hook without a timeout of its own gets this one (seconds): runc would wait for it forever,
# and the engine that called us with it.
DEFAULT_TIMEOUT = 60


def timeout_of(hook):
    return hook.get("timeout") or DEFAULT_TIMEOUT


def total_timeout(hooks, *kinds):
    """The longest the hooks of kinds may run one after another (a bound on waits that
    include them)."""
    return sum(timeout_of(hook) for kind in kinds for hook in hooks.get(kind) or [])


def run_hooks(hooks, kind, state):
    """Run every hook of `kind` with state on stdin. A failure raises HookError, except for
    poststart/poststop whose failures are logged as warnings."""
    of_kind = hooks.get(kind) or []
    if not of_kind:
        return
    from pyrunc import log

    payload = jsonio.dumps(state).encode()
    for i, hook in enumerate(of_kind):
        try:
            _run_one(kind, i, hook, payload)
        except HookError as e:
            if kind not in WARN_ONLY:
                raise
            log.warning(str(e))


def _run_one(kind, i, hook, payload):
    import subprocess  # only containers with hooks pay for this import
    from pyrunc import log

    name = f"hooks.{kind}[{i}] {hook['path']}"
    args = hook.get("args") or [hook["path"]]
    env = dict(e.split("=", 1) for e in hook.get("env") or [])
    try:
        result = subprocess.run(args, executable=hook["path"], input=payload, env=env,
                                capture_output=True, timeout=timeout_of(hook))
    except subprocess.TimeoutExpired:
        # Also when the hook exited but something it started still holds its stdout.
        raise HookError(f"{name}: timed out after {timeout_of(hook)}s (killed)") from None
    except OSError as e:
        raise HookError(f"{name}: {e.strerror}") from None
    # A hook's output goes to pyrunc's log, never to the container's stdio (which is also
    # pyrunc's own when an engine calls it).
    for stream, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        if data.strip():
            log.info(f"{name} {stream}: {data.decode(errors='replace').strip()}")
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip()
        raise HookError(f"{name}: exit status {result.returncode}"
                        + (f": {detail.splitlines()[-1]}" if detail else ""))
