"""Real remote-access services on 127.0.0.1 for the remote-host tests, started and stopped
by the tests themselves (no systemd): an sshd, a SASL-protected libvirtd TCP listener and
a Secret Service (gnome-keyring-daemon on a private D-Bus session bus).

Why these shapes:
- sshd runs from its own config and host keys in a temporary directory on a spare port.
  It logs in ``root`` with a test key only (``PermitRootLogin prohibit-password``) and
  ``hvtest`` with a password. The shared libvirtd's socket is root-only through polkit,
  so the qemu+ssh test logs in as root with a key that exists only for the test.
- The SASL listener is a SECOND, unprivileged libvirtd run as the ``hvtest`` user
  (``qemu:///session`` of that user, no VMs). A second root libvirtd would fight the
  shared one over the system QEMU driver's state and pid files, and the shared daemon
  must not be restarted; an unprivileged daemon has its own runtime directory and can
  listen on TCP (``--listen``, ``listen_tcp``, ``auth_tcp = "sasl"``). Its SASL config
  comes from ``SASL_CONF_PATH``. The mechanism is DIGEST-MD5: on plain TCP libvirt
  demands a SASL security layer (SSF >= 56), which SCRAM does not provide (libvirt then
  reports "no SASL mechanisms are available"); SCRAM is only usable over TLS.
- Password logins over SSH use ``qemu+libssh://hvtest@…/session``: sshd checks hvtest's
  password (``set_test_user_password``) and sets XDG_RUNTIME_DIR for hvtest
  (``Sshd.extra_config``), so libvirt's virt-ssh-helper finds the SASL test's
  unprivileged daemon by its local socket.
- gnome-keyring-daemon needs a session bus: the test starts ``dbus-daemon --session``
  itself, points DBUS_SESSION_BUS_ADDRESS at it and unlocks the login keyring with a
  password on stdin, so ``keyring``'s SecretService backend finds a real, unlocked store.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TEST_USER = "hvtest"
SASL_USER = "alice"
# The unprivileged libvirtd probes QEMU's capabilities on first use (seconds); keeping its
# cache between runs makes every later start quick.
CACHE = Path(os.environ.get("HVCONSOLE_CACHE_DIR", "/var/cache/hvconsole")) / "session-libvirt"


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def missing_tools(*names: str) -> list[str]:
    return [n for n in names if shutil.which(n) is None
            and not Path("/usr/sbin", n).exists()]


def ensure_test_user() -> None:
    """The unprivileged ``hvtest`` user (created once, no home, no login shell)."""
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", TEST_USER],
                       check=True, capture_output=True)
        return
    if entry.pw_shell != "/bin/sh":      # ssh runs libvirt's helper through the shell
        subprocess.run(["usermod", "-s", "/bin/sh", TEST_USER], check=True,
                       capture_output=True)


def set_test_user_password(password: str) -> None:
    """The password sshd checks for ``hvtest`` (password logins over libssh)."""
    ensure_test_user()
    subprocess.run(["chpasswd"], input=f"{TEST_USER}:{password}\n", text=True, check=True,
                   capture_output=True)


def _stop(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


@dataclass
class Sshd:
    """An sshd on 127.0.0.1:port; ``stop()``/``start()`` simulate the host going away.

    ``listen`` and ``enter`` put it elsewhere: another address, and a command prefix
    that runs it inside another host's namespaces (``nsenter -t PID -m -n -u``), so that
    it serves that host's libvirtd socket and network."""

    root: Path
    port: int
    client_key: Path
    host_key: Path
    proc: subprocess.Popen | None = None
    extra_config: str = ""    # e.g. a "Match User" block
    listen: str = "127.0.0.1"
    enter: list[str] = field(default_factory=list)

    @classmethod
    def create(cls) -> "Sshd":
        root = Path(tempfile.mkdtemp(prefix="hvconsole-sshd-"))
        root.chmod(0o755)
        client_key = root / "id_test"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hvconsole-test",
                        "-f", str(client_key)], check=True)
        (root / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
        sshd = cls(root, spare_port(), client_key, root / "host_ed25519")
        sshd.new_host_key()
        return sshd

    def new_host_key(self) -> None:
        """A fresh host key: what a reinstalled (or impersonated) host shows."""
        for path in (self.host_key, Path(f"{self.host_key}.pub")):
            path.unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(self.host_key)], check=True)

    def config(self) -> Path:
        path = self.root / "sshd_config"
        path.write_text(
            f"Port {self.port}\nListenAddress {self.listen}\nHostKey {self.host_key}\n"
            f"PidFile {self.root}/sshd.pid\nAuthorizedKeysFile {self.root}/authorized_keys\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"AllowUsers root {TEST_USER}\nClientAliveInterval 0\nLogLevel ERROR\n"
            + self.extra_config)
        return path

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.proc = subprocess.Popen([*self.enter, "/usr/sbin/sshd", "-D", "-e", "-f",
                                      str(self.config())],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.root / "sshd.log", "ab"))
        if not wait_for_port(self.port, host=self.listen):
            raise RuntimeError(f"sshd did not start: {(self.root / 'sshd.log').read_text()}")

    def stop(self) -> None:
        """Stops the listener and kills the sessions it runs (the host is gone)."""
        self.kill_sessions()
        _stop(self.proc)
        self.proc = None

    def kill_sessions(self) -> None:
        """Every per-connection sshd child of ours (their parent is our listener)."""
        if self.proc is None:
            return
        children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        for pid in children:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def close(self) -> None:
        self.kill_sessions()
        _stop(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class SaslLibvirtd:
    """An unprivileged libvirtd of ``hvtest`` listening on 127.0.0.1:port with SASL."""

    root: Path
    port: int
    password: str
    proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"qemu+tcp://127.0.0.1:{self.port}/session"

    @classmethod
    def create(cls, password: str) -> "SaslLibvirtd":
        ensure_test_user()
        root = Path(tempfile.mkdtemp(prefix="hvconsole-sasl-"))
        root.chmod(0o755)
        for sub in ("sasl", "run", "home"):
            (root / sub).mkdir()
        (root / "sasl" / "libvirt.conf").write_text(
            f"mech_list: digest-md5\nsasldb_path: {root}/passwd.db\n")
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", str(root / "passwd.db"), "-a",
                        "libvirt", SASL_USER], input=password.encode(), check=True)
        port = spare_port()
        (root / "libvirtd.conf").write_text(
            f'listen_tls = 0\nlisten_tcp = 1\ntcp_port = "{port}"\n'
            f'listen_addr = "127.0.0.1"\nauth_tcp = "sasl"\n')
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "-R", f"{TEST_USER}:", str(root), str(CACHE)], check=True)
        (root / "run").chmod(0o700)
        return cls(root, port, password)

    def start(self) -> None:
        r = self.root
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": f"{r}/home",
               "XDG_RUNTIME_DIR": f"{r}/run", "XDG_CONFIG_HOME": f"{r}/home/.config",
               "XDG_CACHE_HOME": str(CACHE), "XDG_DATA_HOME": f"{r}/home/.local",
               "SASL_CONF_PATH": f"{r}/sasl"}
        self.proc = subprocess.Popen(
            ["setpriv", f"--reuid={TEST_USER}", f"--regid={TEST_USER}", "--clear-groups",
             "libvirtd", "--listen", "-f", f"{r}/libvirtd.conf"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(r / "libvirtd.log", "ab"),
            cwd=r)
        if not wait_for_port(self.port, 20):
            raise RuntimeError(f"the SASL libvirtd did not listen: "
                               f"{(r / 'libvirtd.log').read_text()[-2000:]}")

    def close(self) -> None:
        _stop(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class SecretService:
    """A private session bus with gnome-keyring-daemon's Secret Service, unlocked."""

    root: Path
    address: str
    procs: list[subprocess.Popen] = field(default_factory=list)

    @classmethod
    def start(cls, unlock_password: str = "keyring-unlock", attempts: int = 3) -> "SecretService":
        """Now and then (about one start in twenty here, more on a busy machine) the
        daemon comes up without making the "login" collection `--unlock` asks for, and
        never makes it; a new daemon then does. So a start that has no login collection
        after a few seconds is thrown away and made again."""
        for attempt in range(1, attempts + 1):
            service = cls._start_once(unlock_password)
            if service._wait_for_login_collection(timeout_s=5.0) or attempt == attempts:
                return service
            print(f"SecretService: no login collection after 5 s (start {attempt}), again",
                  file=sys.stderr)
            service.close()
        raise AssertionError("unreachable")

    @classmethod
    def _start_once(cls, unlock_password: str) -> "SecretService":
        root = Path(tempfile.mkdtemp(prefix="hvconsole-keyring-"))
        (root / "data").mkdir()
        (root / "run").mkdir(mode=0o700)
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1",
                                f"--address=unix:path={root}/bus"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        address = bus.stdout.readline().strip()
        service = cls(root, address, [bus])
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address,
                   XDG_DATA_HOME=f"{root}/data", XDG_RUNTIME_DIR=f"{root}/run",
                   HOME=str(root))
        keyring = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock",
                                    "--components=secrets"], env=env, stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   text=True)
        keyring.stdin.write(unlock_password)
        keyring.stdin.close()
        service.procs.append(keyring)
        return service

    def _wait_for_login_collection(self, timeout_s: float) -> bool:
        """Whether the "login" collection takes an item within ``timeout_s``: the daemon
        answers on the bus before `--unlock` has made it, and until then an item stored
        in the default collection (what secret-tool and scripts do) fails with "Object
        does not exist". Without secret-tool: True, unchecked."""
        if shutil.which("secret-tool") is None:
            return True
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
        probe = ["service", "hvconsole-test-probe", "username", "probe"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stored = subprocess.run(["secret-tool", "store", "--label", "probe", *probe],
                                    input="probe", text=True, capture_output=True,
                                    env=env, timeout=30)
            if stored.returncode == 0:
                subprocess.run(["secret-tool", "clear", *probe], capture_output=True,
                               env=env, timeout=30)
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
        shutil.rmtree(self.root, ignore_errors=True)
