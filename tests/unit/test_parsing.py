"""Pure parsers: mount options, signal names, container ids, the fast argv parser, and the
default spec. No root needed."""
import _signal

import pytest

from pyrunc import config as config_mod, entry, mountopts
from pyrunc.errors import InvalidIdError, PyruncError
from pyrunc.mountopts import parse_options
from pyrunc.names import parse_signal
from pyrunc.spec import default_spec
from pyrunc.state import validate_id

# -- mount options ---------------------------------------------------------------------------------


def test_mount_flag_values_are_the_kernels():
    # <linux/mount.h>: a wrong constant here would mount something else than asked.
    assert (mountopts.MS_RDONLY, mountopts.MS_NOSUID, mountopts.MS_NODEV,
            mountopts.MS_NOEXEC) == (1, 2, 4, 8)
    assert (mountopts.MS_REMOUNT, mountopts.MS_BIND, mountopts.MS_REC) == (32, 4096, 16384)
    assert (mountopts.MS_UNBINDABLE, mountopts.MS_PRIVATE, mountopts.MS_SLAVE,
            mountopts.MS_SHARED) == (131072, 262144, 524288, 1048576)
    assert (mountopts.MS_NOATIME, mountopts.MS_RELATIME, mountopts.MS_STRICTATIME) == \
        (1024, 2097152, 16777216)


def test_no_options():
    o = parse_options([])
    assert (o.flags, o.cleared, o.propagation, o.data, o.extras) == (0, 0, [], "", [])
    assert not o.is_bind


def test_flags_accumulate():
    o = parse_options(["nosuid", "noexec", "nodev", "ro"])
    assert o.flags == (mountopts.MS_NOSUID | mountopts.MS_NOEXEC | mountopts.MS_NODEV
                       | mountopts.MS_RDONLY)
    assert o.cleared == 0
    assert o.data == ""


def test_defaults_sets_nothing():
    assert parse_options(["defaults"]).flags == 0


def test_clearing_option_clears_and_is_recorded():
    o = parse_options(["ro", "nosuid", "rw"])
    assert o.flags == mountopts.MS_NOSUID
    assert o.cleared == mountopts.MS_RDONLY


def test_last_of_a_pair_wins():
    o = parse_options(["rw", "ro"])
    assert o.flags == mountopts.MS_RDONLY
    assert o.cleared == 0
    o = parse_options(["exec", "suid", "dev", "noexec"])
    assert o.flags == mountopts.MS_NOEXEC
    assert o.cleared == mountopts.MS_NOSUID | mountopts.MS_NODEV


def test_bind_and_rbind():
    assert parse_options(["bind"]).flags == mountopts.MS_BIND
    o = parse_options(["rbind", "ro"])
    assert o.flags == mountopts.MS_BIND | mountopts.MS_REC | mountopts.MS_RDONLY
    assert o.is_bind


def test_propagation_is_kept_apart_in_order():
    o = parse_options(["rprivate", "bind", "shared", "runbindable", "slave"])
    assert o.propagation == [mountopts.MS_PRIVATE | mountopts.MS_REC, mountopts.MS_SHARED,
                             mountopts.MS_UNBINDABLE | mountopts.MS_REC, mountopts.MS_SLAVE]
    assert o.flags == mountopts.MS_BIND  # propagation never leaks into the mount flags


def test_unknown_options_become_the_data_string_in_order():
    o = parse_options(["nosuid", "mode=755", "strictatime", "size=65536k", "newinstance"])
    assert o.data == "mode=755,size=65536k,newinstance"
    assert o.flags == mountopts.MS_NOSUID | mountopts.MS_STRICTATIME


def test_default_devpts_options():
    devpts = next(m for m in default_spec()["mounts"] if m["destination"] == "/dev/pts")
    o = parse_options(devpts["options"])
    assert o.flags == mountopts.MS_NOSUID | mountopts.MS_NOEXEC
    assert o.data == "newinstance,ptmxmode=0666,mode=0620,gid=5"


def test_runtime_options_are_extras_not_data():
    o = parse_options(["tmpcopyup", "mode=1777"])
    assert o.extras == ["tmpcopyup"]
    assert o.data == "mode=1777"


# -- signals ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,number", [
    ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("sigkill", 9), ("sigterm", 15),
    ("TERM", 15), ("15", 15), ("HUP", 1), ("SIGUSR1", 10), ("usr2", 12), (" INT ", 2),
    ("1", 1), ("64", 64),
])
def test_parse_signal(text, number):
    assert parse_signal(text) == number


def test_parse_signal_accepts_an_int():
    assert parse_signal(9) == 9


def test_realtime_signals():
    assert parse_signal("RTMIN+1") == _signal.SIGRTMIN + 1
    assert parse_signal("SIGRTMIN+1") == _signal.SIGRTMIN + 1
    assert parse_signal("sigrtmin+0") == _signal.SIGRTMIN
    assert parse_signal("RTMAX-2") == _signal.SIGRTMAX - 2
    assert parse_signal("RTMIN") == _signal.SIGRTMIN
    assert parse_signal("RTMAX") == _signal.SIGRTMAX


@pytest.mark.parametrize("text", [
    "", "0", "65", "1000", "-9", "9.0", "BOGUS", "SIGBOGUS", "KILLX", "SIG", "NSIG",
    "SIG_DFL", "SIG_IGN", "SIG_BLOCK", "RTMIN+31", "RTMIN+x", "RTMAX-31", "SIGRTMIN-1",
    "KILL 9", "__class__",
])
def test_bad_signal_names_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_signal(text)


# -- container ids ---------------------------------------------------------------------------------

@pytest.mark.parametrize("container_id", [
    "a", "abc", "web-1", "my_container", "a+b", "v1.2.3", "..a", "a..", "-leading-dash",
    "UPPER", "0", "x" * 1024,
])
def test_good_ids(container_id):
    validate_id(container_id)  # no exception


@pytest.mark.parametrize("container_id", [
    "../x", "", ".", "..", "a/b", "/abs", "a b", "tab\there", "new\nline", "nul\0", "é",
    "a:b", "a*", "x" * 1025, "$(id)",
])
def test_bad_ids_raise_invalid_id_error(container_id):
    with pytest.raises(InvalidIdError) as info:
        validate_id(container_id)
    assert isinstance(info.value, PyruncError)
    assert "invalid container id" in str(info.value)


# -- the fast argv parser --------------------------------------------------------------------------

def test_parse_simple_verb():
    assert entry.parse(["state", "c1"]) == ("state", {}, {"container_id": "c1"})


def test_parse_globals_before_the_verb():
    verb, g, o = entry.parse(["--root", "/run/x", "--log=/tmp/l", "--log-format", "json",
                              "--debug", "--rootless=false", "start", "c1"])
    assert verb == "start"
    assert g == {"root": "/run/x", "log": "/tmp/l", "log_format": "json", "debug": True,
                 "rootless": "false"}
    assert o == {"container_id": "c1"}


def test_parse_value_with_equals_and_separate():
    _, _, o = entry.parse(["create", "--bundle=/b", "--pid-file", "/p", "c1"])
    assert o == {"bundle": "/b", "pid_file": "/p", "container_id": "c1"}


def test_parse_value_containing_equals_sign():
    _, _, o = entry.parse(["create", "--bundle=/srv/a=b", "c1"])
    assert o["bundle"] == "/srv/a=b"


def test_parse_short_flags():
    _, _, o = entry.parse(["create", "-b", "/b", "c1"])
    assert o == {"bundle": "/b", "container_id": "c1"}
    assert entry.parse(["delete", "-f", "c1"])[2] == {"force": True, "container_id": "c1"}
    assert entry.parse(["run", "-d", "c1"])[2] == {"detach": True, "container_id": "c1"}
    assert entry.parse(["kill", "-a", "c1", "KILL"])[2] == {"all": True, "container_id": "c1",
                                                            "signal": "KILL"}


def test_parse_options_after_the_id():
    _, _, o = entry.parse(["create", "c1", "--bundle", "/b", "--no-pivot"])
    assert o == {"container_id": "c1", "bundle": "/b", "no_pivot": True}


def test_parse_flags_of_create():
    _, _, o = entry.parse(["create", "--builtin", "--no-new-keyring", "--preserve-fds", "2",
                           "--console-socket", "/s.sock", "c1"])
    assert o == {"builtin": True, "no_new_keyring": True, "preserve_fds": "2",
                 "console_socket": "/s.sock", "container_id": "c1"}


def test_parse_kill_optional_signal():
    assert entry.parse(["kill", "c1"])[2] == {"container_id": "c1"}
    assert entry.parse(["kill", "c1", "9"])[2] == {"container_id": "c1", "signal": "9"}


def test_parse_double_dash_ends_options():
    assert entry.parse(["kill", "--", "c1", "-9"])[2] == {"container_id": "c1", "signal": "-9"}


@pytest.mark.parametrize("argv", [
    [],                                        # no verb
    ["--root", "/r"],                          # globals only
    ["--root"],                                # global missing its value
    ["spec"], ["features"],                    # verbs without a fast path
    ["exec", "--nope", "c1", "true"],          # unknown option of a fast verb
    ["list", "c1"],                            # list takes no id
    ["bogus", "c1"],                           # unknown verb
    ["--bogus", "state", "c1"],                # unknown global
    ["state", "--bogus", "c1"],                # unknown verb option
    ["state", "--root", "/r", "c1"],           # a global after the verb
    ["state"],                                 # missing id
    ["create", "--bundle", "/b"],              # missing id
    ["kill"],
    ["state", "c1", "c2"],                     # too many positionals
    ["kill", "c1", "9", "extra"],
    ["create", "c1", "--bundle"],              # option missing its value
    ["delete", "--force=yes", "c1"],           # a flag given a value
    ["--debug=1", "state", "c1"],
    ["delete", "-fa", "c1"],                   # combined short flags: click's business
    ["--help"], ["state", "--help", "c1"], ["-v"],
])
def test_parse_falls_back_to_click(argv):
    with pytest.raises(entry._NotFast):
        entry.parse(argv)


# -- the default spec ------------------------------------------------------------------------------

def test_default_spec_validates(tmp_path):
    (tmp_path / "rootfs").mkdir()
    spec = default_spec()
    assert config_mod.validate(spec, str(tmp_path)) is spec
    assert spec["root"]["path"] == "rootfs"
    assert {ns["type"] for ns in spec["linux"]["namespaces"]} == \
        {"pid", "network", "ipc", "uts", "mount", "cgroup"}


def test_default_rootless_spec_validates(tmp_path):
    import os
    (tmp_path / "rootfs").mkdir()
    spec = default_spec(rootless=True)
    config_mod.validate(spec, str(tmp_path))
    types = [ns["type"] for ns in spec["linux"]["namespaces"]]
    assert "user" in types and "network" not in types
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]


def test_default_spec_is_a_fresh_copy_each_time():
    a = default_spec()
    a["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    a["mounts"].clear()
    b = default_spec()
    assert "CAP_SYS_ADMIN" not in b["process"]["capabilities"]["bounding"]
    assert b["mounts"]
