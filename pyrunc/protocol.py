"""Every message between pyrunc (the parent) and the processes it forks, and the order they go.

The channel is a SOCK_SEQPACKET socketpair: one JSON object a packet, file descriptors riding
along with SCM_RIGHTS. A child that fails sends ERROR with the step it was in and the errno;
the parent raises InitError with that text (it never guesses from an exit status). If the
parent dies, the child reads end-of-file and exits, so a killed `create` leaves no init behind
until the parent has recorded the init's pid in state.json. The parent's every read is bounded
(spawn.INIT_TIMEOUT a message, and a stopped or frozen child is an error at once): the README's
"Waits" lists each wait of pyrunc's, its bound and the error that ends it.

create / run (the init path)

  parent                                  stage1 (fork 1)                init (fork 2, pid 1)
  ------                                  ---------------                --------------------
  validate config, make state dir,
  exec fifo, cgroup dirs; open ns paths
  fork ─────────────────────────────────▶ setns() into joined namespaces
                                          unshare(CLONE_NEWUSER)?
        ◀──────────────── USERNS_READY    (only with a new user ns)
  write uid_map / gid_map
        ──────────────── USERNS_MAPPED ─▶ unshare(other new namespaces)
                                          write time offsets
                                          fork ────────────────────────▶ (blocked on channel)
        ◀──────────────── INIT_PID {pid}  exit 0
  record pid in state.json
        ──────────────── CONTINUE ─────────────────────────────────────▶ mounts, devices
  join pid to the container's cgroups
  (the kernel's first migration waits
  out an RCU grace period: it overlaps
  the init's mounting)
        ──────────────── CGROUP_JOINED ────────────────────────────────▶ (read where it next
                                                                         reads; always before
                                                                         unshare(CLONE_NEWCGROUP)
                                                                         and the process setup)
        ◀──────────────────────────────────────────────── RUN_HOOKS      (only with such hooks)
  prestart, createRuntime hooks
        ──────────────── HOOKS_DONE ───────────────────────────────────▶ createContainer hooks,
                                                                         pivot_root, hostname,
                                                                         sysctl, console
        ◀──────────────────────────────────────────────── PTY_MASTER     (terminal: fd attached)
                                                                         unshare(CLONE_NEWCGROUP)?
                                                                         rlimits, user, caps,
                                                                         executable looked up
        ◀──────────────────────────────────────────────── READY          close channel
  state `created`, pid file, exit                                        open exec fifo: blocks
  (run: start at once, then wait)
  start: open fifo, read 1 byte ─────────────────────────────────────▶  write 1 byte, seccomp,
                                                                         execve(process)

exec follows the same path with the container's namespaces all joined: stage1 setns()es into
them and forks the process; the process joins the cgroups (via the parent), sets itself up as
the init does, sends READY and execs; the channel is close-on-exec, so the parent seeing EOF
after READY knows the execve succeeded, and ERROR if it did not.
"""
import _socket  # socket.py would pull in enum and selectors: ~7 ms per start
import os
import struct  # not array: its import drags in collections (~2.5 ms per start)

from pyrunc import jsonio

USERNS_READY = "userns-ready"
USERNS_MAPPED = "userns-mapped"
INIT_PID = "init-pid"
CONTINUE = "continue"
CGROUP_JOINED = "cgroup-joined"
RUN_HOOKS = "run-hooks"
HOOKS_DONE = "hooks-done"
PTY_MASTER = "pty-master"
READY = "ready"
ERROR = "error"


class ChannelClosed(Exception):
    """The other end went away (the peer exited or exec'd)."""


class Channel:
    """One end of the parent/child socketpair."""

    def __init__(self, sock):
        self.sock = sock
        self.cgroup_joined = False

    @classmethod
    def pair(cls):
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        return cls(a), cls(b)

    def fileno(self):
        return self.sock.fileno()

    def send(self, kind, fds=(), **fields):
        fields["type"] = kind
        data = jsonio.dumps(fields).encode()
        if fds:
            self.sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                        struct.pack(f"{len(fds)}i", *fds))])
        else:
            # write(2), not send(2): the init's last messages go after its seccomp filter is
            # loaded, and a profile that lets a program print allows write but not always
            # sendto (runc's init writes its sync messages the same way).
            os.write(self.sock.fileno(), data)

    def recv(self):
        """Return (message dict, [fds]); raise ChannelClosed at end of file."""
        fds = []
        try:
            data, ancdata, _flags, _addr = self.sock.recvmsg(65536, _socket.CMSG_SPACE(4 * 4))
        except ConnectionResetError:
            # The peer closed with a message of ours unread (it failed, or was OOM-killed,
            # before reading it). The kernel reports that first, even when the peer's last
            # message (its ERROR) is still queued for us: read that, if it is there.
            try:
                data, ancdata, _flags, _addr = self.sock.recvmsg(
                    65536, _socket.CMSG_SPACE(4 * 4), _socket.MSG_DONTWAIT)
            except OSError:  # nothing queued (EAGAIN), or gone for good
                raise ChannelClosed() from None
        for level, kind, payload in ancdata:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                fds.extend(struct.unpack(f"{usable // 4}i", payload[:usable]))
        if not data:
            raise ChannelClosed()
        return jsonio.loads(data), fds

    def expect(self, kind):
        """Receive the next message, which must be `kind` (an ERROR raises InitError). A
        CGROUP_JOINED on the way is noted (self.cgroup_joined), whatever is awaited."""
        while True:
            message, fds = self.recv()
            raise_if_error(message)
            if message["type"] == CGROUP_JOINED and kind != CGROUP_JOINED:
                self.cgroup_joined = True
                continue
            if message["type"] != kind:
                raise ProtocolError(f"expected {kind}, got {message['type']}")
            return message, fds

    def wait_cgroup_joined(self):
        if not self.cgroup_joined:
            self.expect(CGROUP_JOINED)
            self.cgroup_joined = True

    def close(self):
        self.sock.close()


class ProtocolError(Exception):
    pass


def raise_if_error(message):
    if message.get("type") == ERROR:
        from pyrunc.errors import InitError
        raise InitError(message.get("step", "?"), message.get("message", ""),
                        message.get("errno", 0))


# The checkpoints this process has passed, for a post-mortem (postmortem.py).
REACHED = []


def checkpoint(step):
    """A named step of the parent on the init path (container.py, spawn.py). It only notes
    the step (a failure's post-mortem says how far the parent got): it is the seam where the
    tests' double of pyrunc (tests/pyrunc_faulty.py) kills the parent, which the installed
    runtime has no way to do. Callers look it up as protocol.checkpoint at each call so that
    the double's replacement is the one called."""
    REACHED.append(step)
