"""Pure parsing: mount options, signals, container ids, JSON, the fast argv parser."""
import json

import pytest

from pyrunc import entry, jsonio, mountopts, names, state
from pyrunc.errors import InvalidIdError


def test_mount_options():
    o = mountopts.parse_options(["nosuid", "ro", "rw", "noexec", "rprivate", "mode=755",
                                 "size=1m", "rbind", "tmpcopyup"])
    assert o.flags == mountopts.MS_NOSUID | mountopts.MS_NOEXEC | mountopts.MS_BIND | \
        mountopts.MS_REC
    assert o.cleared & mountopts.MS_RDONLY
    assert o.propagation == [mountopts.MS_PRIVATE | mountopts.MS_REC]
    assert o.data == "mode=755,size=1m"
    assert o.extras == ["tmpcopyup"]
    assert o.is_bind


@pytest.mark.parametrize("text, number", [("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigterm", 15),
                                          ("HUP", 1), ("RTMIN+1", 35), ("SIGRTMAX-1", 63)])
def test_signals(text, number):
    assert names.parse_signal(text) == number


@pytest.mark.parametrize("text", ["0", "65", "BOGUS", "SIG_DFL", "", "RTMIN+99"])
def test_bad_signals(text):
    with pytest.raises(ValueError):
        names.parse_signal(text)


@pytest.mark.parametrize("good", ["a", "web-1", "A_b.c+d", "x" * 200])
def test_good_ids(good):
    state.validate_id(good)


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "é", "a b", "x" * 1025])
def test_bad_ids(bad):
    with pytest.raises(InvalidIdError):
        state.validate_id(bad)


@pytest.mark.parametrize("doc", ['{"a": [1, 2.5, null, true, "\\u00e9"]}', " [] ", '"s"',
                                 '\ufeff{"bom": 1}'])
def test_jsonio_matches_json(doc):
    assert jsonio.loads(doc) == json.loads(doc.lstrip("\ufeff"))
    assert jsonio.loads(doc.encode()) == json.loads(doc.lstrip("\ufeff"))


@pytest.mark.parametrize("doc", ["{", "[1,]", "{} x", ""])
def test_jsonio_rejects(doc):
    with pytest.raises(ValueError):
        jsonio.loads(doc)


def test_jsonio_dumps_round_trips():
    value = {"a": [1, "é", None, {"b": False}]}
    assert json.loads(jsonio.dumps(value)) == value
    assert json.loads(jsonio.dumps(value, indent=2)) == value


def test_fast_parser_reads_runc_command_lines():
    verb, g, o = entry.parse(["--root", "/r", "--log=/l", "--log-format", "json", "create",
                              "--bundle", "/b", "--pid-file=/p", "--no-new-keyring", "id1"])
    assert (verb, g, o) == ("create", {"root": "/r", "log": "/l", "log_format": "json"},
                            {"bundle": "/b", "pid_file": "/p", "no_new_keyring": True,
                             "container_id": "id1"})
    assert entry.parse(["kill", "--all", "c", "KILL"])[2] == {"all": True, "container_id": "c",
                                                              "signal": "KILL"}
    assert entry.parse(["delete", "-f", "c"])[2] == {"force": True, "container_id": "c"}
    assert entry.parse(["run", "-d", "-b", "x", "c"])[2] == {"detach": True, "bundle": "x",
                                                             "container_id": "c"}


@pytest.mark.parametrize("argv", [[], ["--help"], ["create", "--help"], ["create"],
                                  ["create", "a", "b"], ["create", "--bogus", "x"],
                                  ["kill", "a", "b", "c"], ["exec", "c", "ls"],
                                  ["--root"], ["create", "--bundle"], ["delete", "--force=1", "c"]])
def test_fast_parser_falls_back_to_click(argv):
    with pytest.raises(entry._NotFast):
        entry.parse(argv)
