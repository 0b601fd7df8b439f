"""The command line, defined with click: the definition of every verb and flag, help and
usage errors. The verbs engines call on every container also have a fast path (pyrunc.entry)
that parses the same flags without importing click; tests/unit/test_cli_table.py keeps the two
in step."""
import sys

import click

from pyrunc import SPEC_VERSION, __version__, commands


def _run(ctx, verb, **options):
    code = commands.run_verb(verb, ctx.obj, options)
    ctx.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default="/run/pyrunc", show_default=True,
              help="Directory for the state of containers.")
@click.option("--log", default=None, help="Log file (default: stderr).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log format.")
@click.option("--debug", is_flag=True, help="Debug logging, and tracebacks on errors.")
@click.option("--systemd-cgroup", is_flag=True, help="Use systemd for cgroups (not available yet).")
@click.option("--rootless", default="auto", help="Rootless mode: true, false or auto.")
@click.version_option(__version__, "-v", "--version", prog_name="pyrunc",
                      message="pyrunc version %(version)s\nspec: " + SPEC_VERSION +
                      " (config.json 1.0.0 to 1.x accepted)")
@click.pass_context
def main_group(ctx, **global_options):
    """pyrunc: a runc-compatible OCI container runtime."""
    ctx.obj = global_options


def _bundle_option(f):
    return click.option("-b", "--bundle", default=None,
                        help="Bundle directory (default: the current directory).")(f)


def _create_options(f):
    for option in reversed([
        _bundle_option,
        click.option("--builtin", is_flag=True, help="Use the built-in busybox bundle."),
        click.option("--console-socket", default=None,
                     help="Unix socket that receives the pty master of a terminal container."),
        click.option("--pid-file", default=None, help="Write the init's pid to this file."),
        click.option("--no-pivot", is_flag=True, help="Move + chroot instead of pivot_root."),
        click.option("--no-new-keyring", is_flag=True, help="Keep the caller's session keyring."),
        click.option("--preserve-fds", type=int, default=0,
                     help="Pass this many extra fds (from 3) to the container."),
        click.option("--trace", default=None,
                     help="Write every primitive of the init path to this file (JSON lines)."),
        click.option("--pidfd-socket", default=None,
                     help="Unix socket that receives a pidfd of the container's init."),
    ]):
        f = option(f)
    return f


@main_group.command()
@click.argument("container_id")
@_create_options
@click.pass_context
def create(ctx, **options):
    """Create a container (its process waits for `start`)."""
    _run(ctx, "create", **options)


@main_group.command()
@click.argument("container_id")
@_create_options
@click.option("-d", "--detach", is_flag=True, help="Return after starting the container.")
@click.option("--keep", is_flag=True,
              help="Keep the stopped container (state, cgroups) for `state` and `delete`.")
@click.option("--no-subreaper", is_flag=True,
              help="Do not reap the processes the container leaves reparented.")
@click.pass_context
def run(ctx, **options):
    """Create and start a container; wait for it unless --detach."""
    _run(ctx, "run", **options)


@main_group.command()
@click.argument("container_id")
@click.pass_context
def start(ctx, **options):
    """Start a created container."""
    _run(ctx, "start", **options)


@main_group.command()
@click.argument("container_id")
@click.pass_context
def state(ctx, **options):
    """Print the state of a container as JSON."""
    _run(ctx, "state", **options)


@main_group.command()
@click.argument("container_id")
@click.argument("signal", required=False, default="SIGTERM")
@click.option("-a", "--all", "all", is_flag=True, help="Signal every process of the container.")
@click.pass_context
def kill(ctx, **options):
    """Send a signal (name or number, default SIGTERM) to the container's init."""
    _run(ctx, "kill", **options)


@main_group.command()
@click.argument("container_id")
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.pass_context
def delete(ctx, **options):
    """Delete a container and everything it holds."""
    _run(ctx, "delete", **options)


@main_group.command("list")
@click.option("-f", "--format", "format", type=click.Choice(["table", "json"]), default="table")
@click.option("-q", "--quiet", is_flag=True, help="Print only the ids.")
@click.pass_context
def list_(ctx, **options):
    """List containers."""
    _run(ctx, "list", **options)


@main_group.command("exec", context_settings={"allow_interspersed_args": False})
@click.argument("container_id")
@click.argument("command", nargs=-1)
@click.option("-p", "--process", default=None, help="JSON file with the process to run.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a terminal.")
@click.option("--console-socket", default=None, help="Unix socket for the pty master.")
@click.option("-d", "--detach", is_flag=True, help="Do not wait for the process.")
@click.option("--pid-file", default=None, help="Write the process's pid to this file.")
@click.option("--cwd", default=None, help="Working directory in the container.")
@click.option("-e", "--env", multiple=True, help="NAME=VALUE to add (repeatable).")
@click.option("-u", "--user", default=None, help="UID[:GID] to run as.")
@click.option("--preserve-fds", type=int, default=0, help="Pass this many extra fds.")
@click.option("-g", "--additional-gids", multiple=True,
              help="Add a supplementary group id (repeatable).")
@click.option("-c", "--cap", multiple=True,
              help="Add a capability to the process's sets (repeatable).")
@click.option("--no-new-privs", is_flag=True, help="Set no_new_privs.")
@click.option("--process-label", default=None,
              help="SELinux label of the process (refused where SELinux is not enabled).")
@click.option("--apparmor", default=None,
              help="AppArmor profile of the process (refused where AppArmor is not enabled).")
@click.option("--ignore-paused", is_flag=True,
              help="Exec in a paused container too: the process waits for `resume`.")
@click.option("--cgroup", multiple=True,
              help="Join a sub-cgroup: SUB, or on cgroup v1 CTRL[,CTRL]:SUB (repeatable).")
@click.option("--pidfd-socket", default=None,
              help="Unix socket that receives a pidfd of the exec'd process.")
@click.pass_context
def exec_(ctx, **options):
    """Run a new process inside a running container."""
    _run(ctx, "exec", **options)


@main_group.command()
@click.pass_context
def features(ctx, **options):
    """Print the runtime-spec Features structure: what this build and host support."""
    _run(ctx, "features", **options)


@main_group.command()
@_bundle_option
@click.option("--rootless", is_flag=True, help="A spec for a rootless container.")
@click.option("--format", "format", type=click.Choice(["json", "yaml"]), default="json",
              help="config.json, or a hand-written style config.yaml.")
@click.pass_context
def spec(ctx, **options):
    """Write a default config.json into the bundle."""
    _run(ctx, "spec", **options)


@main_group.command()
@click.argument("container_id")
@click.option("-r", "--resources", default=None,
              help="JSON LinuxResources from a file, or - for standard input.")
@click.option("--memory", default=None, help="Memory limit (bytes, or 512m, 1g; -1: none).")
@click.option("--memory-swap", default=None, help="Memory plus swap limit (-1: unlimited swap).")
@click.option("--memory-reservation", default=None, help="Memory soft limit.")
@click.option("--kernel-memory", default=None, help="Kernel memory limit (ignored by kernels >= 5.16).")
@click.option("--kernel-memory-tcp", default=None, help="TCP buffer memory limit (v1).")
@click.option("--cpu-share", "--cpu-shares", "cpu_share", default=None, help="CPU shares (relative weight).")
@click.option("--cpu-quota", default=None, help="CFS quota per period (usecs; -1: none).")
@click.option("--cpu-period", default=None, help="CFS period (usecs).")
@click.option("--cpu-burst", default=None, help="CFS burst (usecs).")
@click.option("--cpu-rt-period", default=None, help="Realtime period (usecs, v1).")
@click.option("--cpu-rt-runtime", default=None, help="Realtime runtime (usecs, v1).")
@click.option("--cpu-idle", default=None, help="1: SCHED_IDLE for the cgroup.")
@click.option("--cpuset-cpus", default=None, help="CPUs to use (0-3, 0,1).")
@click.option("--cpuset-mems", default=None, help="Memory nodes to use.")
@click.option("--pids-limit", default=None,
              help="Maximum number of pids (0: no fork at all; -1: none).")
@click.option("--blkio-weight", default=None, help="Block I/O weight (10 to 1000).")
@click.pass_context
def update(ctx, **options):
    """Change the resource limits of a running container."""
    _run(ctx, "update", **options)


@main_group.command()
@click.argument("container_id")
@click.pass_context
def pause(ctx, **options):
    """Freeze every process of a container."""
    _run(ctx, "pause", **options)


@main_group.command()
@click.argument("container_id")
@click.pass_context
def resume(ctx, **options):
    """Thaw a paused container."""
    _run(ctx, "resume", **options)


@main_group.command(context_settings={"allow_interspersed_args": False,
                                      "ignore_unknown_options": True})
@click.option("-f", "--format", "format", type=click.Choice(["table", "json"]), default="table")
@click.argument("container_id")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def ps(ctx, **options):
    """The processes of a container (ps arguments after the id, default -ef)."""
    _run(ctx, "ps", **options)


@main_group.command()
@click.argument("container_id")
@click.option("--interval", default="5s", show_default=True, help="Time between stats.")
@click.option("--stats", is_flag=True, help="Print the stats once and exit.")
@click.pass_context
def events(ctx, **options):
    """Stream a container's stats and OOM events as JSON."""
    _run(ctx, "events", **options)


def _criu_options(f):
    """The flags checkpoint and restore share (runc's)."""
    for option in reversed([
        click.option("--image-path", default=None,
                     help="Directory of CRIU's images (default: ./checkpoint)."),
        click.option("--work-path", default=None,
                     help="Directory of CRIU's logs and work files (default: the image path)."),
        click.option("--tcp-established", is_flag=True, help="Carry established TCP connections."),
        click.option("--ext-unix-sk", is_flag=True, help="Allow external unix sockets."),
        click.option("--shell-job", is_flag=True, help="Allow shell jobs (an external tty)."),
        click.option("--file-locks", is_flag=True, help="Carry file locks."),
        click.option("--manage-cgroups-mode", default=None,
                     help="CRIU's cgroups mode: soft (default), full, strict or ignore."),
        click.option("--empty-ns", multiple=True,
                     help="A namespace to create empty (network; repeatable)."),
        click.option("--lazy-pages", is_flag=True, help="Lazy migration (not supported)."),
    ]):
        f = option(f)
    return f


@main_group.command()
@click.argument("container_id")
@_criu_options
@click.option("--parent-path", default=None,
              help="Images of a previous pre-dump (relative to the image path).")
@click.option("--leave-running", is_flag=True, help="Leave the container running.")
@click.option("--pre-dump", is_flag=True, help="Dump memory only; the container runs on.")
@click.option("--status-fd", default=None, help="For --lazy-pages (not supported).")
@click.option("--page-server", default=None, help="For --lazy-pages (not supported).")
@click.pass_context
def checkpoint(ctx, **options):
    """Checkpoint a running container with CRIU."""
    _run(ctx, "checkpoint", **options)


@main_group.command()
@click.argument("container_id")
@_criu_options
@_bundle_option
@click.option("-d", "--detach", is_flag=True, help="Return once the container is restored.")
@click.option("--pid-file", default=None, help="Write the restored init's pid to this file.")
@click.option("--console-socket", default=None,
              help="Unix socket that receives the master of the restored container's pty.")
@click.option("--no-subreaper", is_flag=True, help="Do not become the restored init's parent.")
@click.option("--no-pivot", is_flag=True, help="Accepted for runc's command line (CRIU "
              "restores the root itself).")
@click.pass_context
def restore(ctx, **options):
    """Restore a container from a CRIU checkpoint."""
    _run(ctx, "restore", **options)


@main_group.command()
@click.argument("container_id", required=False)
@_bundle_option
@click.option("--format", "format", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def explain(ctx, **options):
    """What create will do with a bundle (--bundle, nothing is made), or what was done to a
    container or a failed create/start/exec of that id: plan, warnings, exit, post-mortems."""
    _run(ctx, "explain", **options)


@main_group.group()
def network():
    """Bridge networks (pyrunc.network annotation): list and inspect them."""


@network.command("ls")
@click.option("-f", "--format", "format", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def network_ls(ctx, **options):
    """List the networks of the settings file, with their lease counts."""
    _run(ctx, "network-ls", **options)


@network.command("inspect")
@click.argument("name")
@click.pass_context
def network_inspect(ctx, **options):
    """Print one network, its subnets and its leases, as JSON."""
    _run(ctx, "network-inspect", **options)


def main(argv=None):
    """click's entry: used for help, usage errors and the verbs without a fast path."""
    args = sys.argv[1:] if argv is None else argv
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of raising Exit.
        code = main_group.main(args=args, prog_name="pyrunc", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return 1  # runc's usage errors exit 1, not click's 2
    except click.exceptions.Abort:
        return 130
