"""The `pyrunc` console script. Engines run pyrunc for every container (create, start, state,
kill, delete, run, exec; containerd's shim also list, ps, pause, resume, events --stats and
update), so those verbs are parsed here with a small table (pyrunc.cli_table) and go straight
to the API; importing click alone would cost more than runc's whole start. Anything the table
does not cover exactly (help, a typo, another verb) falls back to click, which gives the real
usage messages."""
import gc
import os
import sys


class _NotFast(Exception):
    pass


def parse(argv):
    """Return (verb, global options, verb options) or raise _NotFast."""
    from pyrunc.cli_table import COMMANDS, GLOBAL_OPTIONS

    g = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i = _take_option(argv, i, GLOBAL_OPTIONS, g)
    if i >= len(argv) or argv[i] not in COMMANDS:
        raise _NotFast()
    verb = argv[i]
    table, positional_names, defaults = COMMANDS[verb]
    # A trailing "name*" takes the rest, options included, once it is reached (click's
    # allow_interspersed_args=False on exec and ps): `exec ID sh -c x` runs `sh -c x`.
    variadic = bool(positional_names) and positional_names[-1].endswith("*")
    options = dict(defaults)
    positionals = []
    i += 1
    while i < len(argv):
        arg = argv[i]
        if variadic and positionals:  # a later "--" too is the command's
            positionals.extend(argv[i:])
            break
        if arg == "--":
            positionals.extend(argv[i + 1:])
            break
        if arg.startswith("-") and len(arg) > 1:
            i = _take_option(argv, i, table, options)
        else:
            positionals.append(arg)
            i += 1
    fixed = positional_names[:-1] if variadic else positional_names
    required = [n for n in fixed if not n.endswith("?")]
    if len(positionals) < len(required) or (not variadic and len(positionals) > len(fixed)):
        raise _NotFast()
    for name, value in zip(fixed, positionals):
        options[name.rstrip("?")] = value
    if variadic:
        options[positional_names[-1].rstrip("*")] = tuple(positionals[len(fixed):])
    return verb, g, options


def _take_option(argv, i, table, into):
    arg = argv[i]
    name, eq, value = arg.partition("=")
    if name not in table:
        raise _NotFast()
    dest, takes_value, repeatable = table[name]
    if takes_value:
        if not eq:
            if i + 1 >= len(argv):
                raise _NotFast()
            value = argv[i + 1]
            i += 1
        into[dest] = into.get(dest, ()) + (value,) if repeatable else value
    else:
        if eq:
            raise _NotFast()
        into[dest] = True
    return i + 1


def main():
    # A pyrunc command lives for milliseconds and makes no garbage cycles worth collecting;
    # a collection in a forked child would also touch (and copy) every page of the heap.
    gc.disable()
    if "PYRUNC_TIMING" in os.environ:  # per-phase timing (pyrunc.timing), not imported when off
        from pyrunc import timing
        timing.begin("main")
    argv = sys.argv[1:]
    try:
        verb, g, options = parse(argv)
    except _NotFast:
        from pyrunc.cli import main as click_main
        return click_main(argv)
    if not values_ok(g) or not values_ok(options):
        from pyrunc.cli import main as click_main
        return click_main(argv)
    from pyrunc.commands import run_verb
    code = run_verb(verb, g, options)
    # Skip the interpreter's finalization: tearing down the modules costs ~2 ms of every
    # command an engine runs, and nothing needs it (run_verb has closed the log; no threads,
    # no atexit handlers). The standard streams are flushed by hand.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        code = code or 1
    if "PYRUNC_TIMING" in os.environ:
        from pyrunc import timing
        timing.end("main")
    os._exit(code)


def values_ok(options):
    """The values click would check (Choice, INT) are valid; if not, click says why."""
    from pyrunc.cli_table import CHOICES, INTEGERS
    for dest, allowed in CHOICES.items():
        if dest in options and options[dest] not in allowed:
            return False
    return all(options.get(dest) is None or options[dest].isdigit() for dest in INTEGERS)


if __name__ == "__main__":
    sys.exit(main())
