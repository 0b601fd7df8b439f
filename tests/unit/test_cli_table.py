"""The fast parser's table (pyrunc/cli_table.py) against the click definition (pyrunc/cli.py),
which is the reference: same spellings, same destinations, same flag/value kinds, same
positional arguments, and no click option the table forgets."""
import click
import pytest

from pyrunc import cli_table, commands, entry
from pyrunc.cli import main_group

FAST_VERBS = sorted(cli_table.COMMANDS)


def click_options(command):
    """spelling -> click Option, for the options a user can give (not --help / --version,
    which the fast path leaves to click on purpose)."""
    result = {}
    for param in command.params:
        if not isinstance(param, click.Option) or not param.expose_value:
            continue
        for spelling in list(param.opts) + list(param.secondary_opts):
            result[spelling] = param
    return result


def click_arguments(command):
    return [p for p in command.params if isinstance(p, click.Argument)]


def check_table(table, command, where):
    options = click_options(command)
    problems = []
    for spelling, (dest, takes_value, repeatable) in sorted(table.items()):
        param = options.get(spelling)
        if param is None:
            problems.append(f"{where}: {spelling} is in the table but not in click")
            continue
        if param.name != dest:
            problems.append(f"{where}: {spelling} goes to {dest!r}, click says {param.name!r}")
        if takes_value == param.is_flag:
            problems.append(f"{where}: {spelling} takes a value: table {takes_value}, "
                            f"click is_flag {param.is_flag}")
        if repeatable != bool(param.multiple):
            problems.append(f"{where}: {spelling} repeatable: table {repeatable}, "
                            f"click multiple {param.multiple}")
    for spelling in sorted(set(options) - set(table)):
        problems.append(f"{where}: click option {spelling} is missing from the table")
    assert not problems, "\n".join(problems)


def test_every_fast_verb_is_a_click_command_with_a_handler():
    for verb in FAST_VERBS:
        assert verb in main_group.commands, f"{verb} has a fast path but no click command"
        assert verb in commands.VERBS, f"{verb} has no handler in pyrunc.commands"


def test_global_options_match_click():
    check_table(cli_table.GLOBAL_OPTIONS, main_group, "global")


@pytest.mark.parametrize("verb", FAST_VERBS)
def test_verb_options_match_click(verb):
    table, _positional, _defaults = cli_table.COMMANDS[verb]
    check_table(table, main_group.commands[verb], verb)


@pytest.mark.parametrize("verb", FAST_VERBS)
def test_verb_positionals_match_click(verb):
    _table, positional, _defaults = cli_table.COMMANDS[verb]
    command = main_group.commands[verb]
    from_table = [(name.rstrip("?*"), not name.endswith(("?", "*"))) for name in positional]
    arguments = click_arguments(command)
    from_click = [(a.name, a.required) for a in arguments]
    assert from_table == from_click
    for name, a in zip(positional, arguments):
        if name.endswith("*"):
            assert a.nargs == -1, f"{verb} {a.name}: '*' is for nargs=-1"
            assert a is arguments[-1], f"{verb} {a.name}: only the last argument takes the rest"
            # the fast parser stops taking options at the first positional for such a verb
            assert command.context_settings.get("allow_interspersed_args") is False, verb
        else:
            assert a.nargs == 1, f"{verb} {a.name}: the fast parser takes one value per argument"
    if not any(name.endswith("*") for name in positional):
        assert command.context_settings.get("allow_interspersed_args", True), verb


@pytest.mark.parametrize("verb", FAST_VERBS)
def test_verb_defaults_match_click(verb):
    """The defaults the fast parser fills in are click's; every other option click leaves at
    a false value, which the verbs read as "not given"."""
    table, positional, defaults = cli_table.COMMANDS[verb]
    argv = ["c1" for name in positional if not name.endswith(("?", "*"))]
    _g, click_o = _click_parse([], verb, argv)
    _verb, _g, fast_o = entry.parse([verb] + argv)
    options = {dest for dest, _v, _r in table.values()}
    for dest in options:
        if dest in defaults:
            assert defaults[dest] == click_o[dest] == fast_o[dest], (verb, dest)
        else:
            assert not click_o[dest] and dest not in fast_o, (verb, dest, click_o[dest])
    assert set(defaults) <= options


def test_table_spellings_are_well_formed():
    tables = [("global", cli_table.GLOBAL_OPTIONS)] + [
        (verb, cli_table.COMMANDS[verb][0]) for verb in FAST_VERBS]
    for where, table in tables:
        for spelling, entry_ in table.items():
            assert spelling.startswith("--") or (len(spelling) == 2 and spelling[0] == "-"), \
                f"{where}: {spelling}"
            assert "=" not in spelling
            assert len(entry_) == 3


def test_typed_click_options_are_checked_by_the_fast_path():
    """click converts INT and Choice values; the fast path checks those named in
    cli_table.CHOICES and INTEGERS (entry.values_ok) and leaves a bad one to click. Any other
    typed option on a fast verb would reach the verb unchecked."""
    for command in [main_group] + [main_group.commands[v] for v in FAST_VERBS]:
        for param in click_options(command).values():
            if param.is_flag:
                continue
            if isinstance(param.type, click.Choice):
                assert tuple(param.type.choices) == cli_table.CHOICES.get(param.name), param.name
            elif param.type is click.INT:
                assert param.name in cli_table.INTEGERS, param.name
            else:
                assert param.type is click.STRING, (param.name, param.type)
    assert entry.values_ok({"preserve_fds": "3", "format": "json"})
    assert not entry.values_ok({"preserve_fds": "three"})
    assert not entry.values_ok({"format": "yaml"})
    assert not entry.values_ok({"log_format": "xml"})


def _click_parse(global_argv, verb, verb_argv):
    """What click makes of the command line: (global params, verb params)."""
    ctx = main_group.make_context("pyrunc", list(global_argv) + [verb])
    sub = main_group.commands[verb].make_context(verb, list(verb_argv), parent=ctx)
    return ctx.params, sub.params


SAMPLE_VALUES = {"root": "/run/x", "log": "/tmp/l.log", "log_format": "json",
                 "rootless": "false", "bundle": "/srv/b", "console_socket": "/tmp/c.sock",
                 "pidfd_socket": "/tmp/p.sock",
                 "pid_file": "/tmp/p.pid", "preserve_fds": "2", "process": "/tmp/p.json",
                 "cwd": "/srv", "env": "A=1", "user": "1:2", "cap": "CAP_CHOWN",
                 "format": "json", "interval": "2s", "resources": "-", "additional_gids": "5",
                 "process_label": "system_u:system_r:container_t:s0", "apparmor": "unconfined",
                 "cgroup": "sub", "image_path": "/img", "work_path": "/work",
                 "parent_path": "../pre", "manage_cgroups_mode": "soft", "empty_ns": "network",
                 "status_fd": "3", "page_server": "127.0.0.1:1", "trace": "/tmp/t.jsonl"}
# the value of each of runc update's flags (and the positionals after the id, if any)
SAMPLE_VALUES.update({dest: "100" for _s, (dest, _v, _r) in cli_table.COMMANDS["update"][0].items()
                      if dest not in SAMPLE_VALUES})
TRAILING = {"kill": ["KILL"], "exec": ["sh", "-c", "--", "echo hi", "-e"],
            "ps": ["-o", "pid,comm", "--", "x"]}


def _argv_using(table, prefer_long):
    """Every destination of table once, by its long (or short) spelling."""
    argv = []
    seen = set()
    for spelling, (dest, takes_value, _rep) in sorted(table.items(),
                                                      key=lambda kv: (kv[0].startswith("--")
                                                                      != prefer_long, kv[0])):
        if dest in seen:
            continue
        seen.add(dest)
        argv.append(spelling)
        if takes_value:
            argv.append(SAMPLE_VALUES[dest])
    return argv


@pytest.mark.parametrize("prefer_long", [True, False])
@pytest.mark.parametrize("verb", FAST_VERBS)
def test_fast_parse_agrees_with_click(verb, prefer_long):
    table, positional, _defaults = cli_table.COMMANDS[verb]
    global_argv = _argv_using(cli_table.GLOBAL_OPTIONS, True)
    verb_argv = (_argv_using(table, prefer_long) + (["c1"] if positional else [])
                 + TRAILING.get(verb, []))
    fast_verb, fast_g, fast_o = entry.parse(global_argv + [verb] + verb_argv)
    click_g, click_o = _click_parse(global_argv, verb, verb_argv)
    assert fast_verb == verb
    if positional:
        assert fast_o["container_id"] == click_o["container_id"] == "c1"
    assert set(fast_g) == {dest for dest, _v, _r in cli_table.GLOBAL_OPTIONS.values()}
    for dest, value in fast_g.items():
        assert click_g[dest] == value, dest
    for dest, value in fast_o.items():
        expected = click_o[dest]
        assert (str(expected) if isinstance(expected, int) and not isinstance(expected, bool)
                else expected) == value, dest
    # what the fast path did not set, click left at a false-ish default
    for dest, value in click_o.items():
        if dest not in fast_o:
            assert not value, (dest, value)


@pytest.mark.parametrize("argv", [
    ["list"], ["ps", "c1"], ["events", "c1"], ["exec", "c1", "true"],
    ["exec", "-e", "A=1", "--env=B=2", "-t", "c1", "sh", "-e"],
    ["exec", "c1", "--", "ls"], ["exec", "--", "c1", "ls"], ["ps", "-f", "json", "c1", "-ef"],
    ["update", "--memory=1g", "--cpu-shares", "512", "c1"], ["kill", "c1", "--all"],
])
def test_fast_parse_agrees_with_click_on_shapes(argv):
    """Repeated options, `--`, options after the id, and the defaults left out."""
    verb, g, fast_o = entry.parse(argv)
    _click_g, click_o = _click_parse([], verb, argv[1:])
    # kill's signal: click's default SIGTERM, the fast path's None, read as SIGTERM
    with_default = {p.name for p in click_arguments(main_group.commands[verb]) if p.default}
    for dest, value in click_o.items():
        if dest in fast_o:
            assert fast_o[dest] == value, (dest, fast_o[dest], value)
        else:
            assert not value or dest in with_default, (dest, value)


@pytest.mark.parametrize("argv", [
    ["ps"], ["list", "extra"], ["exec", "--nope", "c1", "true"],
    ["pause", "c1", "c2"], ["events", "--stats=1", "c1"], ["update", "--memory"],
])
def test_shapes_the_fast_parser_leaves_to_click(argv):
    with pytest.raises(entry._NotFast):
        entry.parse(argv)


def test_go_runc_single_dash_spelling_of_restore():
    """containerd's shim (go-runc) passes `restore ... -no-subreaper`, which runc's Go flag
    parser takes: both front ends get --no-subreaper; elsewhere the word is left alone."""
    argv = entry.go_spellings(["--root", "/r", "restore", "--image-path", "/i",
                               "-no-subreaper", "--detach", "c1"])
    assert argv[5] == "--no-subreaper"
    verb, _g, o = entry.parse(argv)
    assert verb == "restore" and o["no_subreaper"] is True and o["container_id"] == "c1"
    exec_argv = ["exec", "c1", "prog", "-no-subreaper"]
    assert entry.go_spellings(exec_argv) == exec_argv
