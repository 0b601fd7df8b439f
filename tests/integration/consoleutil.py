"""A --console-socket for tests that create many terminal containers (test_security.py, the
rootfs fuzzer): it takes every pty master sent to it."""
import os
import socket
import threading


class ConsoleSink:
    """A --console-socket that takes every pty master sent to it and keeps it open until
    closed (a master closed at once would hang the terminal up, and the init with it)."""

    def __init__(self, path):
        self.path = str(path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(64)
        self.masters = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    _msg, ancdata, _f, _a = conn.recvmsg(4096, socket.CMSG_SPACE(16))
                except OSError:
                    continue
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    self.masters.extend(memoryview(data).cast("i"))

    def close_masters(self):
        """Close the masters taken so far (their containers are gone)."""
        while self.masters:
            os.close(self.masters.pop())

    def close(self):
        self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(timeout=5)
        self.close_masters()
