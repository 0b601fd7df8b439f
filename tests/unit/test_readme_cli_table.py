"""README's table of runc's verbs and flags against the command line pyrunc really has: the
click definition (pyrunc/cli.py) and the fast parser's table (pyrunc/cli_table.py). Both ways:
every option click knows has its row, and every row's state is what click says (a flag marked
done is there, one marked "not yet" is not), so the table cannot drift."""
import re
from pathlib import Path

import click
import pytest

from pyrunc import cli_table
from pyrunc.cli import main_group

README = Path(__file__).resolve().parents[2] / "README.md"
STATES = ("done", "refused by name", "not yet", "pyrunc only")
IN_CLICK = ("done", "refused by name", "pyrunc only")
GLOBAL = "(global)"
HELP = {"--help", "-h"}


def table_rows():
    """[(verb, spellings, runc version, state)] of the README's table."""
    text = README.read_text()
    section = text.split("## runc's command line\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("verb", "---"):
            continue
        verb, flags, runc, state, _note = cells
        spellings = tuple(re.findall(r"`([^`]+)`", flags))
        rows.append((verb, spellings, runc, state))
    assert rows, "README has no runc command line table"
    return rows


ROWS = table_rows()


def command_of(verb):
    """The click command for a table verb ('network ls' is a subcommand), or None."""
    if verb == GLOBAL:
        return main_group
    command = main_group
    for word in verb.split():
        if not isinstance(command, click.Group) or word not in command.commands:
            return None
        command = command.commands[word]
    return command


def spellings_of(command):
    """Every option spelling a user can give the command (help and version included)."""
    found = set()
    for param in command.params:
        if isinstance(param, click.Option):
            found.update(param.opts)
            found.update(param.secondary_opts)
    if command is main_group:
        found |= HELP
    return found


def test_every_row_is_well_formed():
    seen = set()
    for verb, spellings, runc, state in ROWS:
        assert state in STATES, (verb, spellings, state)
        assert re.fullmatch(r"1\.\d+|-", runc), (verb, spellings, runc)
        if runc == "-":
            assert state == "pyrunc only", (verb, spellings)
        for spelling in spellings:
            assert re.fullmatch(r"--[a-z][a-z0-9-]*|-[a-zA-Z]", spelling), spelling
            assert (verb, spelling) not in seen, f"{verb} {spelling} has two rows"
            seen.add((verb, spelling))


def test_every_verb_has_its_row_and_state():
    verb_rows = {verb: state for verb, spellings, _runc, state in ROWS if not spellings}
    for verb, state in verb_rows.items():
        exists = command_of(verb) is not None
        assert exists == (state in IN_CLICK), f"{verb}: README says {state}"
    commands = [name for name, c in main_group.commands.items()
                if not isinstance(c, click.Group)]
    commands += [f"{name} {sub}" for name, c in main_group.commands.items()
                 if isinstance(c, click.Group) for sub in c.commands]
    missing = sorted(set(commands) - set(verb_rows))
    assert not missing, f"verbs without a README row: {missing}"


@pytest.mark.parametrize("verb, spellings, runc, state",
                         [r for r in ROWS if r[1]], ids=lambda v: str(v))
def test_each_flag_row_matches_click(verb, spellings, runc, state):
    command = command_of(verb)
    known = spellings_of(command) if command is not None else set()
    for spelling in spellings:
        if state in IN_CLICK:
            assert spelling in known, f"{verb} {spelling}: README says {state}, click lacks it"
        else:
            assert spelling not in known, f"{verb} {spelling}: README says {state}, click has it"


def test_every_click_option_has_a_row():
    rows = {(verb, s) for verb, spellings, _runc, _state in ROWS for s in spellings}
    missing = []
    for verb in {v for v, *_ in ROWS}:
        command = command_of(verb)
        if command is None:
            continue
        missing += [f"{verb} {s}" for s in sorted(spellings_of(command))
                    if (verb, s) not in rows]
    assert not missing, f"options without a README row: {missing}"


def test_fast_verbs_take_every_flag_of_their_rows():
    """A verb the fast parser serves (cli_table.COMMANDS) takes each flag README marks as
    there with the same spelling: the fast path and click cannot disagree on it either."""
    for verb, spellings, _runc, state in ROWS:
        if state not in IN_CLICK or not spellings:
            continue
        if verb == GLOBAL:
            table = cli_table.GLOBAL_OPTIONS
            spellings = tuple(s for s in spellings if s not in HELP | {"--version", "-v"})
        elif verb in cli_table.COMMANDS:
            table = cli_table.COMMANDS[verb][0]
        else:
            continue
        for spelling in spellings:
            assert spelling in table, f"{verb} {spelling}: missing from pyrunc/cli_table.py"


@pytest.mark.parametrize("verb", sorted({v for v, *_ in ROWS if command_of(v) is not None}))
@pytest.mark.parametrize("spelling", sorted(HELP))
def test_help_works_for_every_verb(verb, spelling):
    """-h and --help, as runc's: on the group and on every verb, exit 0 with the usage."""
    from click.testing import CliRunner
    argv = ([] if verb == GLOBAL else verb.split()) + [spelling]
    result = CliRunner().invoke(main_group, argv, prog_name="pyrunc")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: pyrunc"), result.output
