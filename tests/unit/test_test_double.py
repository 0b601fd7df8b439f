"""The installed runtime carries no test switch, and the tests' double (tests/pyrunc_faulty.py)
still reaches what it replaces. The attacks each defence stops are shown, defence on and off,
in tests/integration/test_security.py; the kill points in test_faults.py and
test_network.py."""
import os
import re
import subprocess
import sys

import pytest

import pyrunc
from conftest import FAULTY, PYRUNC
from pyrunc_faulty import DEFENCES, NETWORK_STEPS, PARENT_STEPS

PACKAGE = os.path.dirname(os.path.abspath(pyrunc.__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def installed_files():
    """Every file of the installed package (sources, bytecode, the C extension, data), and
    the commands that start it."""
    found = []
    for directory, _dirs, files in os.walk(PACKAGE):
        found.extend(os.path.join(directory, name) for name in files)
    bin_dir = os.path.dirname(sys.executable)
    found.extend(p for p in (PYRUNC, os.path.join(bin_dir, "pyrunc"),
                             os.path.join(bin_dir, "pyrunc-cni")) if os.path.isfile(p))
    return found


def sources():
    """{path relative to the package: text} of the installed package's Python files."""
    result = {}
    for path in installed_files():
        if path.startswith(PACKAGE + os.sep) and path.endswith(".py"):
            with open(path) as f:
                result[os.path.relpath(path, PACKAGE)] = f.read()
    return result


def test_the_installed_package_is_tested():
    """Not the checkout's sources: the checks below are about what scripts/install put in
    place."""
    assert not PACKAGE.startswith(REPO + os.sep), PACKAGE
    assert "site-packages" in PACKAGE
    assert len(sources()) > 20


def test_installed_files_read_no_test_switch():
    offenders = []
    for path in installed_files():
        with open(path, "rb") as f:
            if b"PYRUNC_TEST_" in f.read():
                offenders.append(path)
    assert offenders == []


def test_kill_points_are_the_checkpoints_pyrunc_calls():
    """Both ways: a step the tests inject at that pyrunc no longer reaches would let its fault
    test pass without a crash, and a new checkpoint would go untested. Every call goes through
    protocol.checkpoint, the attribute the double replaces."""
    called = {}
    for name, text in sources().items():
        for prefix, step in re.findall(r'([\w.]*)checkpoint\("([^"]+)"\)', text):
            assert prefix == "protocol.", f"{name}: {prefix}checkpoint({step!r})"
            called.setdefault(step, []).append(name)
    assert sorted(called) == sorted(PARENT_STEPS + NETWORK_STEPS), called
    assert all(len(where) == 1 for where in called.values()), called


@pytest.mark.parametrize("name", sorted(DEFENCES))
def test_the_double_replaces_functions_that_exist_and_are_called_through_their_module(name):
    from importlib import import_module
    texts = sources()
    for module_name, function, _replacement in DEFENCES[name]:
        assert callable(getattr(import_module(module_name), function, None)), function
        defining = module_name.split(".", 1)[1].replace(".", "/") + ".py"
        # Called in its own module by its bare name (looked up there at each call)...
        assert re.search(rf"(?<!def )\b{function}\(", texts[defining]), (defining, function)
        # ...and nowhere bound to another name by an import, which the double would miss.
        imports = [(path, line) for path, text in texts.items() for line in text.splitlines()
                   if re.search(r"\bimport\b", line) and re.search(rf"\b{function}\b", line)]
        assert imports == []


def test_the_double_is_pyrunc():
    double = subprocess.run([*FAULTY, "--version"], capture_output=True, text=True, timeout=30)
    installed = subprocess.run([PYRUNC, "--version"], capture_output=True, text=True, timeout=30)
    assert double.returncode == installed.returncode == 0, double.stderr
    assert double.stdout == installed.stdout


@pytest.mark.parametrize("variable, value, message", [
    ("PYRUNC_TEST_KILL_AT", "no-such-step", "no kill point 'no-such-step'"),
    ("PYRUNC_TEST_FAIL_AT", "no-such-step", "no kill point 'no-such-step'"),
    ("PYRUNC_TEST_DISABLE_PROTECTION", "exe-check,no-such", "no defence 'no-such'"),
])
def test_the_double_refuses_what_it_cannot_inject(variable, value, message):
    """A misspelt switch must fail the test that gave it, not run pyrunc unchanged."""
    result = subprocess.run([*FAULTY, "--version"], capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, **{variable: value}))
    assert result.returncode != 0 and message in result.stderr, result
    assert result.stdout == ""
