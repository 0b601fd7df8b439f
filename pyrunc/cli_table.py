"""The flags of the hot verbs, as plain data for the fast parser in pyrunc.entry. click (in
pyrunc.cli) is the definition; tests/unit/test_cli_table.py fails if this table drifts from it.

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

# verb -> (options, positional argument names; a name ending in '?' is optional)
COMMANDS = {
    "create": (_CREATE, ("container_id",)),
    "run": (dict(_CREATE, **{"-d": ("detach", False, False), "--detach": ("detach", False, False),
                             "--keep": ("keep", False, False),
                             "--no-subreaper": ("no_subreaper", False, False)}),
            ("container_id",)),
    "start": ({}, ("container_id",)),
    "state": ({}, ("container_id",)),
    "kill": ({"-a": ("all", False, False), "--all": ("all", False, False)},
             ("container_id", "signal?")),
    "delete": ({"-f": ("force", False, False), "--force": ("force", False, False)},
               ("container_id",)),
    "checkpoint": (_CHECKPOINT, ("container_id",)),
    "restore": (_RESTORE, ("container_id",)),
}
