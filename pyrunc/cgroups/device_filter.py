"""The cgroup-v2 device controller: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE
attached to the container's cgroup, compiled here from the device rules.

cgroup v2 has no devices.allow: the kernel runs the programs attached to a cgroup (and its
ancestors) on every open and mknod of a device node, with a struct bpf_cgroup_dev_ctx
{u32 access_type; u32 major; u32 minor} where access_type is (access << 16) | type, access
the BPF_DEVCG_ACC_* bits (mknod 1, read 2, write 4) and type BPF_DEVCG_DEV_BLOCK 1 or _CHAR 2;
the program returns 1 to allow, 0 to deny. The rules mean what they mean on v1 (see
device_rules.py): the program is the v1 state, its exceptions tested one after the other.

The instructions are written as raw 8-byte struct bpf_insn; native/ only passes them to bpf(2).
"""
import os
import sys

from pyrunc import native
from pyrunc.cgroups.device_rules import ACC_ALL, DeviceTable

# The license string only matters for GPL-only helpers, which this program does not call.
LICENSE = "Apache"
PROGRAM_NAME = "pyrunc_devices"

_DEV_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_*

# Opcodes (linux/bpf_common.h, linux/bpf.h): class | operation | source.
_LDX_MEM_W = 0x61           # BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
_ALU32_MOV_K = 0xB4         # BPF_ALU | BPF_MOV | BPF_K: dst = imm (32-bit, upper half cleared)
_ALU32_MOV_X = 0xBC         # BPF_ALU | BPF_MOV | BPF_X: dst = src
_ALU32_AND_K = 0x54         # BPF_ALU | BPF_AND | BPF_K
_ALU32_RSH_K = 0x74         # BPF_ALU | BPF_RSH | BPF_K
_JMP32_JEQ_K = 0x16         # BPF_JMP32 | BPF_JEQ | BPF_K: if (u32)dst == imm: pc += off
_JMP32_JNE_K = 0x56         # BPF_JMP32 | BPF_JNE | BPF_K
_EXIT = 0x95                # BPF_JMP | BPF_EXIT: return r0

# Registers: r1 holds the context on entry; r2 type, r3 access, r4 major, r5 minor; r0 scratch
# and result.
R0, R1, R2, R3, R4, R5 = range(6)

_NEXT = object()  # a jump's offset before the block it skips is complete


def _encode(code, dst=0, src=0, off=0, imm=0):
    # struct bpf_insn {u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm;} in the host's byte
    # order, the two register nibbles in its bit-field order (int.to_bytes: no struct import).
    order = sys.byteorder
    regs = (src << 4) | dst if order == "little" else (dst << 4) | src
    return (bytes((code, regs)) + off.to_bytes(2, order, signed=True)
            + imm.to_bytes(4, order, signed=True))


def _s32(value):
    """A u32 constant as the signed imm field holds it (32-bit compares see the same bits)."""
    return value - (1 << 32) if value >= 1 << 31 else value


def _prologue():
    return [
        (_LDX_MEM_W, R2, R1, 0, 0),      # r2 = ctx->access_type
        (_ALU32_MOV_X, R3, R2, 0, 0),
        (_ALU32_RSH_K, R3, 0, 0, 16),    # r3 = access
        (_ALU32_AND_K, R2, 0, 0, 0xFFFF),  # r2 = type
        (_LDX_MEM_W, R4, R1, 4, 0),      # r4 = ctx->major
        (_LDX_MEM_W, R5, R1, 8, 0),      # r5 = ctx->minor
    ]


def _exception_block(key, bits, default_allow):
    """Instructions that return the exception's verdict when it matches, else fall through."""
    kind, major, minor = key
    block = [(_JMP32_JNE_K, R2, 0, _NEXT, _DEV_TYPE[kind])]
    if major is not None:
        block.append((_JMP32_JNE_K, R4, 0, _NEXT, _s32(major)))
    if minor is not None:
        block.append((_JMP32_JNE_K, R5, 0, _NEXT, _s32(minor)))
    if default_allow:
        # a deny exception: matches when any requested bit is one of its bits
        block += [(_ALU32_MOV_X, R0, R3, 0, 0), (_ALU32_AND_K, R0, 0, 0, bits),
                  (_JMP32_JEQ_K, R0, 0, _NEXT, 0)]
    elif bits != ACC_ALL:
        # an allow exception: matches when no requested bit is outside its bits
        block += [(_ALU32_MOV_X, R0, R3, 0, 0), (_ALU32_AND_K, R0, 0, 0, ~bits & ACC_ALL),
                  (_JMP32_JNE_K, R0, 0, _NEXT, 0)]
    block += [(_ALU32_MOV_K, R0, 0, 0, 0 if default_allow else 1), (_EXIT, 0, 0, 0, 0)]
    end = len(block)
    return [(code, dst, src, end - i - 1 if off is _NEXT else off, imm)
            for i, (code, dst, src, off, imm) in enumerate(block)]


def compile_rules(rules):
    """The eBPF program (bytes) for a list of device rules: OCI linux.resources.devices dicts
    (checked, errors naming linux.resources.devices[i]) or device_rules.Rule objects, applied
    from "deny every device" on. Use device_rules.effective_rules for a container's list."""
    table = DeviceTable.from_rules(rules)
    insns = []
    exceptions = table.ordered_exceptions()
    if exceptions:
        insns += _prologue()
        for key, bits in exceptions:
            insns += _exception_block(key, bits, table.default_allow)
    insns += [(_ALU32_MOV_K, R0, 0, 0, 1 if table.default_allow else 0), (_EXIT, 0, 0, 0, 0)]
    return b"".join(_encode(*insn) for insn in insns)


def _open_cgroup(cgroup_dir):
    return os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def install(cgroup_dir, rules):
    """Make rules the device filter of the v2 cgroup cgroup_dir, replacing the programs
    attached there before.

    The new program is attached next to the old ones (BPF_F_ALLOW_MULTI: every attached
    program must allow an access) and only then are the old ones detached, so the cgroup is
    never without a filter. A program lives as long as it is attached: removing the cgroup
    frees it, closing our fds does not."""
    program = compile_rules(rules)  # bad rules fail here, before the cgroup is touched
    dirfd = _open_cgroup(cgroup_dir)
    try:
        old, flags = native.bpf_prog_query(dirfd, native.BPF_CGROUP_DEVICE)
        progfd = native.bpf_prog_load(native.BPF_PROG_TYPE_CGROUP_DEVICE, program, LICENSE,
                                      PROGRAM_NAME)
        try:
            if old and not flags & native.BPF_F_ALLOW_MULTI:
                # Someone attached a single program without MULTI (which refuses a second
                # one): attaching with the same flags replaces it in one step.
                native.bpf_prog_attach(dirfd, progfd, native.BPF_CGROUP_DEVICE, flags)
                return
            native.bpf_prog_attach(dirfd, progfd, native.BPF_CGROUP_DEVICE,
                                   native.BPF_F_ALLOW_MULTI)
        finally:
            os.close(progfd)
        for prog_id in old:
            _detach(dirfd, prog_id)
    finally:
        os.close(dirfd)


def _detach(dirfd, prog_id):
    try:
        fd = native.bpf_prog_get_fd_by_id(prog_id)
    except FileNotFoundError:
        return  # detached and freed meanwhile
    try:
        native.bpf_prog_detach(dirfd, fd, native.BPF_CGROUP_DEVICE)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


def installed(cgroup_dir):
    """The ids of the device programs attached to cgroup_dir itself (not its ancestors')."""
    dirfd = _open_cgroup(cgroup_dir)
    try:
        return native.bpf_prog_query(dirfd, native.BPF_CGROUP_DEVICE)[0]
    finally:
        os.close(dirfd)
