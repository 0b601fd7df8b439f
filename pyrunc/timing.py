"""Per-phase timing of a command and of the processes it forks (issue 17): with
PYRUNC_TIMING=1 in the environment, each phase's begin and end is one line on stderr,

    pyrunc-timing <CLOCK_MONOTONIC ns> <pid> <process> <phase> begin|end

from the parent (`pyrunc`), stage1 and the init alike (they share the clock, so the lines of
one command sort into its timeline; scripts/phases does that and adds the interpreter's start,
which no line can show). Off, the default, a phase costs a call that tests one global: about
0.05 us, a few us a command (scripts/phases --cost measures it).

The lines go to fd 2 with one write(2) each, which the init keeps until it execs: the kernel
appends a write of that size whole, so the processes' lines never tear each other's.
"""
import os
import time

ON = os.environ.get("PYRUNC_TIMING") == "1"
_process = ["pyrunc"]


def process(name):
    """Name the current process (after a fork) in the lines it writes."""
    _process[0] = name


def begin(phase):
    if ON:
        _write(phase, "begin")


def end(phase):
    if ON:
        _write(phase, "end")


def _write(phase, edge):
    try:
        os.write(2, f"pyrunc-timing {time.monotonic_ns()} {os.getpid()} {_process[0]} "
                    f"{phase} {edge}\n".encode())
    except OSError:
        pass  # a closed stderr loses the timing, never the command
