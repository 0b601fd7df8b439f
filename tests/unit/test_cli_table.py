"""The fast path's flag table (pyrunc/cli_table.py) must say what click (pyrunc/cli.py) says."""
import click
import pytest

from pyrunc import cli, cli_table


def click_options(params):
    """spelling -> (destination, takes a value, repeatable) for click's options."""
    table = {}
    for p in params:
        if isinstance(p, click.Option) and not p.hidden and p.name not in ("help", "version"):
            for spelling in p.opts:
                table[spelling] = (p.name, not p.is_flag, p.multiple)
    return table


def click_arguments(params):
    return tuple(p.name + ("" if p.required else "?") for p in params
                 if isinstance(p, click.Argument))


def test_global_options_match():
    options = click_options(cli.main_group.params)
    options.pop("-v", None)
    options.pop("--version", None)
    assert options == cli_table.GLOBAL_OPTIONS


@pytest.mark.parametrize("verb", sorted(cli_table.COMMANDS))
def test_verb_matches_click(verb):
    command = cli.main_group.commands[verb]
    table, arguments = cli_table.COMMANDS[verb]
    assert click_options(command.params) == table
    assert click_arguments(command.params) == arguments


def test_hot_verbs_have_a_fast_path():
    assert {"create", "start", "state", "kill", "delete", "run"} <= set(cli_table.COMMANDS)
