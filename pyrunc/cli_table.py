"""The flags of the hot verbs, as plain data for the fast parser in pyrunc.entry. click (in
pyrunc.cli) is the definition; tests/unit/test_cli_table.py fails if this table drifts from it.

option spelling -> (destination, takes a value, repeatable)
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
}

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
}
