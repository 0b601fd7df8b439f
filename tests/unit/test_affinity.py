"""CPU lists and the affinity transition around the cgroup join (pyrunc.affinity): pure, the
kernel call replaced by a recorder."""
import pytest

from pyrunc import affinity
from pyrunc.errors import ConfigError, PyruncError

HOST = {0, 1}


@pytest.mark.parametrize("text, cpus", [
    ("0", {0}), ("0-3,7", {0, 1, 2, 3, 7}), ("1,0", {0, 1}), ("2-2", {2}), ("", set()),
    (" 0-1 ", {0, 1}),
])
def test_parse(text, cpus):
    assert affinity.parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text", ["a", "1-", "-1", "1,,2", "3-1", "1 ,2", "0x1", "1-2-3"])
def test_parse_refuses(text):
    with pytest.raises(ValueError):
        affinity.parse_cpu_list(text)


def test_format_is_the_kernels():
    assert affinity.format_cpu_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert affinity.format_cpu_list(set()) == ""


def test_host_cpus_from_the_possible_file(tmp_path):
    possible = tmp_path / "possible"
    possible.write_text("0-3\n")
    assert affinity.host_cpus(str(possible)) == {0, 1, 2, 3}


def test_validate_names_the_field():
    assert affinity.validate({"initial": "1", "final": ""}, "p", HOST) == {
        "initial": {1}, "final": set()}
    for value, key, reason in (({"final": "0-2"}, "final", "CPU 2 is not on this host"),
                               ({"initial": "x"}, "initial", "is not a CPU number"),
                               ({"initial": 0}, "initial", "must be a string")):
        with pytest.raises(ConfigError) as e:
            affinity.validate(value, "process.execCPUAffinity", HOST)
        assert e.value.field == f"process.execCPUAffinity.{key}"
        assert reason in e.value.reason
    with pytest.raises(ConfigError):
        affinity.validate("0-1", "process.execCPUAffinity", HOST)


def transition(wanted, fail=None):
    calls = []

    def setaffinity(pid, cpus):
        calls.append(("set", pid, set(cpus)))
        if fail:
            raise fail
    affinity.join_with(lambda pid: calls.append(("join", pid)), wanted,
                       setaffinity=setaffinity)(42)
    return calls


def test_initial_before_the_join_final_after(monkeypatch):
    monkeypatch.setattr(affinity, "host_cpus", lambda path=None: HOST)
    assert transition({"initial": {1}, "final": {0}}) == [
        ("set", 42, {1}), ("join", 42), ("set", 42, {0})]


def test_without_final_the_affinity_is_reset_to_every_cpu(monkeypatch):
    monkeypatch.setattr(affinity, "host_cpus", lambda path=None: HOST)
    assert transition(None) == [("join", 42), ("set", 42, HOST)]
    assert transition({"initial": {0}, "final": set()}) == [
        ("set", 42, {0}), ("join", 42), ("set", 42, HOST)]


def test_a_refused_affinity_is_one_error_naming_the_field(monkeypatch):
    with pytest.raises(PyruncError) as e:
        transition({"initial": {1}}, fail=OSError(22, "Invalid argument"))
    assert str(e.value).startswith("process.execCPUAffinity.initial: CPU 1: ")
    assert transition({"initial": {1}}, fail=ProcessLookupError()) != []  # a gone child
