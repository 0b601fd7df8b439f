"""The flags of the verbs engines call, as plain data for the fast parser in pyrunc.entry.
click (in pyrunc.cli) is the definition; tests/unit/test_cli_table.py fails if this table
drifts from it.

option spelling -> (destination, takes a value, repeatable: its values collected in a tuple,
as click's multiple=True gives them)
"""

GLOBAL_OPTIONS = {
    "--root": ("root", True, False),
    "--log": ("log", True, False),
    "--log-format": ("log_format", True, False),
    "--debug": ("debug", False, False),
    "--systemd-cgroup": ("systemd_cgroup", False, False),
    "--rootless": ("rootless", True, False),
}

_CREATE = {
    "-b": ("bundle", True, False), "--bundle": ("bundle", True, False),
    "--builtin": ("builtin", False, False),
    "--console-socket": ("console_socket", True, False),
    "--pid-file": ("pid_file", True, False),
    "--no-pivot": ("no_pivot", False, False),
    "--no-new-keyring": ("no_new_keyring", False, False),
    "--preserve-fds": ("preserve_fds", True, False),
    "--trace": ("trace", True, False),
    "--pidfd-socket": ("pidfd_socket", True, False),
}

# checkpoint and restore: containerd's shim calls them too.
_CRIU = {
    "--image-path": ("image_path", True, False), "--work-path": ("work_path", True, False),
    "--tcp-established": ("tcp_established", False, False),
    "--ext-unix-sk": ("ext_unix_sk", False, False), "--shell-job": ("shell_job", False, False),
    "--file-locks": ("file_locks", False, False),
    "--manage-cgroups-mode": ("manage_cgroups_mode", True, False),
    "--empty-ns": ("empty_ns", True, True), "--lazy-pages": ("lazy_pages", False, False),
}
_CHECKPOINT = dict(_CRIU, **{
    "--parent-path": ("parent_path", True, False),
    "--leave-running": ("leave_running", False, False),
    "--pre-dump": ("pre_dump", False, False), "--status-fd": ("status_fd", True, False),
    "--page-server": ("page_server", True, False),
})
_RESTORE = dict(_CRIU, **{
    "-b": ("bundle", True, False), "--bundle": ("bundle", True, False),
    "-d": ("detach", False, False), "--detach": ("detach", False, False),
    "--pid-file": ("pid_file", True, False), "--console-socket": ("console_socket", True, False),
    "--no-subreaper": ("no_subreaper", False, False),
    "--no-pivot": ("no_pivot", False, False),
})

_EXEC = {
    "-p": ("process", True, False), "--process": ("process", True, False),
    "-t": ("tty", False, False), "--tty": ("tty", False, False),
    "--console-socket": ("console_socket", True, False),
    "-d": ("detach", False, False), "--detach": ("detach", False, False),
    "--pid-file": ("pid_file", True, False),
    "--cwd": ("cwd", True, False),
    "-e": ("env", True, True), "--env": ("env", True, True),
    "-u": ("user", True, False), "--user": ("user", True, False),
    "--preserve-fds": ("preserve_fds", True, False),
    "-c": ("cap", True, True), "--cap": ("cap", True, True),
    "--no-new-privs": ("no_new_privs", False, False),
    "-g": ("additional_gids", True, True), "--additional-gids": ("additional_gids", True, True),
    "--process-label": ("process_label", True, False),
    "--apparmor": ("apparmor", True, False),
    "--ignore-paused": ("ignore_paused", False, False),
    "--cgroup": ("cgroup", True, True),
    "--pidfd-socket": ("pidfd_socket", True, False),
}

_FORMAT = {"-f": ("format", True, False), "--format": ("format", True, False)}

# runc update's single-value flags, each a string parsed by pyrunc.cgroup_verbs.
_UPDATE = {"-r": ("resources", True, False), "--resources": ("resources", True, False),
           "--cpu-shares": ("cpu_share", True, False)}
for _dest in ("memory", "memory_swap", "memory_reservation", "kernel_memory",
              "kernel_memory_tcp", "cpu_share", "cpu_quota", "cpu_period", "cpu_burst",
              "cpu_rt_period", "cpu_rt_runtime", "cpu_idle", "cpuset_cpus", "cpuset_mems",
              "pids_limit", "blkio_weight"):
    _UPDATE["--" + _dest.replace("_", "-")] = (_dest, True, False)

# verb -> (options, positional argument names, defaults). A name ending in '?' is optional;
# one ending in '*' takes every argument left, and options end at the verb's first positional
# argument (click's allow_interspersed_args=False). defaults: what click fills in for an
# option left out, where that is not a false value.
COMMANDS = {
    "create": (_CREATE, ("container_id",), {}),
    "run": (dict(_CREATE, **{"-d": ("detach", False, False), "--detach": ("detach", False, False),
                             "--keep": ("keep", False, False),
                             "--no-subreaper": ("no_subreaper", False, False)}),
            ("container_id",), {}),
    "start": ({}, ("container_id",), {}),
    "state": ({}, ("container_id",), {}),
    "kill": ({"-a": ("all", False, False), "--all": ("all", False, False)},
             ("container_id", "signal?"), {}),
    "delete": ({"-f": ("force", False, False), "--force": ("force", False, False)},
               ("container_id",), {}),
    "exec": (_EXEC, ("container_id", "command*"), {}),
    "list": (dict(_FORMAT, **{"-q": ("quiet", False, False), "--quiet": ("quiet", False, False)}),
             (), {"format": "table"}),
    "ps": (_FORMAT, ("container_id", "ps_args*"), {"format": "table"}),
    "pause": ({}, ("container_id",), {}),
    "resume": ({}, ("container_id",), {}),
    "events": ({"--interval": ("interval", True, False), "--stats": ("stats", False, False)},
               ("container_id",), {"interval": "5s"}),
    "update": (_UPDATE, ("container_id",), {}),
    "checkpoint": (_CHECKPOINT, ("container_id",), {}),
    "restore": (_RESTORE, ("container_id",), {}),
}

# Values click checks (its INT and Choice types): one the fast path finds outside these goes
# to click, which prints the usage error.
CHOICES = {"log_format": ("text", "json"), "format": ("table", "json")}
INTEGERS = ("preserve_fds",)
