"""compile_rules: the eBPF device program, run through a small interpreter of the instructions
it uses, against the answers of the v1 model and against answers written out by hand."""
import itertools
import struct
import sys

import pytest

from pyrunc.cgroups.device_filter import compile_rules
from pyrunc.cgroups.device_rules import DeviceTable, effective_rules
from pyrunc.errors import ConfigError

R, W, M = 2, 4, 1  # BPF_DEVCG_ACC_*
BLOCK, CHAR = 1, 2  # BPF_DEVCG_DEV_*
MASK32 = 0xFFFFFFFF


def decode(program):
    assert len(program) % 8 == 0 and program, "a program is a non-empty array of 8-byte insns"
    insns = []
    for i in range(0, len(program), 8):
        order = "<" if sys.byteorder == "little" else ">"
        code, regs, off, imm = struct.unpack(order + "BBhi", program[i:i + 8])
        dst, src = (regs & 0xF, regs >> 4) if order == "<" else (regs >> 4, regs & 0xF)
        insns.append((code, dst, src, off, imm))
    return insns


def run(program, kind, major, minor, access):
    """Execute the program on a bpf_cgroup_dev_ctx; return r0. Only the opcodes a device
    filter needs are known: anything else fails the test."""
    ctx = struct.pack("=III", (access << 16) | kind, major, minor)
    insns = decode(program)
    regs = [None] * 11
    regs[1] = "ctx"
    pc = 0
    for _step in range(10 * len(insns)):  # no loops: a program runs each insn at most once
        assert 0 <= pc < len(insns), "jumped out of the program"
        code, dst, src, off, imm = insns[pc]
        pc += 1
        if code == 0x61:  # ldxw dst, [src + off]
            assert regs[src] == "ctx" and off in (0, 4, 8)
            regs[dst] = struct.unpack_from("=I", ctx, off)[0]
        elif code == 0xB4:
            regs[dst] = imm & MASK32
        elif code == 0xBC:
            regs[dst] = regs[src] & MASK32
        elif code == 0x54:
            regs[dst] = regs[dst] & imm & MASK32
        elif code == 0x74:
            regs[dst] = (regs[dst] & MASK32) >> imm
        elif code in (0x16, 0x56):  # jeq32 / jne32 with an immediate
            equal = regs[dst] & MASK32 == imm & MASK32
            if equal == (code == 0x16):
                pc += off
        elif code == 0x95:
            assert regs[0] in (0, 1), "a device program returns 0 or 1"
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x} at {pc - 1}")
    raise AssertionError("the program did not exit")


def allowed(program, device, access):
    kind, major, minor = device
    return run(program, {"b": BLOCK, "c": CHAR}[kind], major, minor, access) == 1


NULL, ZERO, SDA, SDA1 = ("c", 1, 3), ("c", 1, 5), ("b", 8, 0), ("b", 8, 1)


def test_default_container_rules():
    program = compile_rules(effective_rules([]))
    assert allowed(program, NULL, R | W)
    assert allowed(program, ZERO, R)
    assert allowed(program, ("c", 136, 7), R | W)  # a pty
    assert allowed(program, ("c", 5, 2), R | W)  # /dev/ptmx
    assert allowed(program, ("c", 10, 200), R | W)  # /dev/net/tun
    assert allowed(program, SDA, M)  # mknod of anything is granted by default
    assert not allowed(program, SDA, R)
    assert not allowed(program, SDA, W)
    assert not allowed(program, ("c", 1, 4), R)  # /dev/port
    assert not allowed(program, ("c", 1, 1), R | W)  # /dev/mem


def test_config_rule_grants_only_its_access():
    program = compile_rules(effective_rules(
        [{"allow": False, "access": "rwm"}, {"allow": True, "type": "b", "major": 8,
                                              "minor": 0, "access": "r"}]))
    assert allowed(program, SDA, R)
    assert not allowed(program, SDA, W)
    assert not allowed(program, SDA, R | W)  # one exception must hold every requested bit
    assert not allowed(program, SDA1, R)


def test_allow_all_then_deny_some():
    program = compile_rules([{"allow": True, "access": "rwm"},
                             {"allow": False, "type": "c", "major": 1, "minor": 3,
                              "access": "w"}])
    assert allowed(program, NULL, R)
    assert not allowed(program, NULL, W)
    assert not allowed(program, NULL, R | W)  # any denied bit denies
    assert allowed(program, ZERO, R | W)
    assert allowed(program, SDA, R | W | M)


def test_type_a_resets_what_came_before():
    program = compile_rules([{"allow": True, "type": "c", "major": 1, "minor": 3,
                              "access": "rwm"},
                             {"allow": False, "type": "a", "access": "r"}])
    assert not allowed(program, NULL, R)
    assert len(program) == 16  # nothing to test: "return 0"


def test_wildcards():
    program = compile_rules([{"allow": True, "type": "b", "major": 8, "access": "rw"},
                             {"allow": True, "type": "c", "major": -1, "minor": 9,
                              "access": "r"}])
    assert allowed(program, SDA, R | W)
    assert allowed(program, ("b", 8, 17), R)
    assert not allowed(program, ("b", 9, 0), R)
    assert not allowed(program, ("c", 8, 0), R)  # type matters
    assert allowed(program, ("c", 1, 9), R)
    assert allowed(program, ("c", 200, 9), R)
    assert not allowed(program, ("c", 1, 9), W)


def test_largest_numbers_compare_as_unsigned():
    program = compile_rules([{"allow": True, "type": "c", "major": 0xFFFFFFFE, "minor": 1 << 31,
                              "access": "r"}])
    assert allowed(program, ("c", 0xFFFFFFFE, 1 << 31), R)
    assert not allowed(program, ("c", 0xFFFFFFFE, 0), R)


def test_empty_rule_list_denies_everything():
    program = compile_rules([])
    assert not allowed(program, NULL, R)


@pytest.mark.parametrize("rules", [
    [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "access": "rw"},
     {"allow": False, "type": "c", "major": 1, "access": "w"},
     {"allow": True, "type": "b", "minor": 0, "access": "m"}],
    [{"allow": True, "access": "rwm"}, {"allow": False, "type": "b", "access": "w"},
     {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "rm"},
     {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "m"}],
    [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
     {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "w"}],
])
def test_program_agrees_with_the_v1_model(rules):
    """Every device of a small grid, every access: the program and the model agree."""
    program = compile_rules(rules)
    table = DeviceTable.from_rules(rules)
    devices = [(kind, major, minor) for kind in "bc" for major in (1, 8) for minor in (0, 3, 5)]
    for device, access in itertools.product(devices, range(8)):
        assert allowed(program, device, access) == table.allows(*device, access), (device, access)


def test_first_instruction_encoding():
    # ldxw r2, [r1 + 0]: code 0x61, dst r2 in the low nibble on little-endian hosts
    first = compile_rules([{"allow": True, "type": "c", "access": "r"}])[:8]
    if sys.byteorder == "little":
        assert first == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("rule, field, reason", [
    ({"allow": True, "type": "x", "access": "r"}, "linux.resources.devices[0].type",
     "must be 'a', 'b' or 'c'"),
    ({"allow": True, "type": "c", "access": "rx"}, "linux.resources.devices[0].access",
     "combination of 'r', 'w' and 'm'"),
    ({"allow": True, "type": "c", "access": ""}, "linux.resources.devices[0].access",
     "non-empty"),
    ({"allow": True, "type": "c"}, "linux.resources.devices[0].access", "non-empty"),
    ({"allow": "yes", "access": "r"}, "linux.resources.devices[0].allow", "true or false"),
    ({"allow": True, "type": "c", "major": -2, "access": "r"},
     "linux.resources.devices[0].major", "device number"),
    ({"allow": True, "type": "c", "minor": "3", "access": "r"},
     "linux.resources.devices[0].minor", "device number"),
    ({"allow": True, "type": "c", "minor": 1 << 32, "access": "r"},
     "linux.resources.devices[0].minor", "device number"),
    ("c 1:3 rwm", "linux.resources.devices[0]", "must be an object"),
])
def test_bad_rules_name_the_field(rule, field, reason):
    with pytest.raises(ConfigError) as info:
        compile_rules([rule])
    assert info.value.field == field
    assert reason in info.value.reason
    assert "\n" not in str(info.value)


def test_rule_index_in_error():
    with pytest.raises(ConfigError, match=r"devices\[2\]\.type"):
        compile_rules([{"allow": False, "access": "rwm"}, {"allow": True, "access": "r"},
                       {"allow": True, "type": "p", "access": "r"}])
