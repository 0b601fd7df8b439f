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
    table, _positional = cli_table.COMMANDS[verb]
    check_table(table, main_group.commands[verb], verb)


@pytest.mark.parametrize("verb", FAST_VERBS)
def test_verb_positionals_match_click(verb):
    _table, positional = cli_table.COMMANDS[verb]
    from_table = [(name.rstrip("?"), not name.endswith("?")) for name in positional]
    arguments = click_arguments(main_group.commands[verb])
    from_click = [(a.name, a.required) for a in arguments]
    assert from_table == from_click
    for a in arguments:
        assert a.nargs == 1, f"{verb} {a.name}: the fast parser takes one value per argument"


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
    """click converts INT and Choice values; the fast path only checks preserve_fds
    (entry._ints_ok) and log_format (entry.main). Any other typed option on a fast verb would
    reach the verb unchecked."""
    typed = set()
    for command in [main_group] + [main_group.commands[v] for v in FAST_VERBS]:
        for param in click_options(command).values():
            if param.is_flag:
                continue
            if isinstance(param.type, click.Choice) or param.type is click.INT:
                typed.add(param.name)
    assert typed <= {"preserve_fds", "log_format"}, typed
    assert entry._ints_ok({"preserve_fds": "3"})
    assert not entry._ints_ok({"preserve_fds": "three"})


def _click_parse(global_argv, verb, verb_argv):
    """What click makes of the command line: (global params, verb params)."""
    ctx = main_group.make_context("pyrunc", list(global_argv) + [verb])
    sub = main_group.commands[verb].make_context(verb, list(verb_argv), parent=ctx)
    return ctx.params, sub.params


SAMPLE_VALUES = {"root": "/run/x", "log": "/tmp/l.log", "log_format": "json",
                 "rootless": "false", "bundle": "/srv/b", "console_socket": "/tmp/c.sock",
                 "pid_file": "/tmp/p.pid", "preserve_fds": "2", "trace": "/tmp/t.jsonl"}


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
    table, positional = cli_table.COMMANDS[verb]
    global_argv = _argv_using(cli_table.GLOBAL_OPTIONS, True)
    verb_argv = (_argv_using(table, prefer_long) + ["c1"]
                 + (["KILL"] if len(positional) > 1 else []))
    fast_verb, fast_g, fast_o = entry.parse(global_argv + [verb] + verb_argv)
    click_g, click_o = _click_parse(global_argv, verb, verb_argv)
    assert fast_verb == verb
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
