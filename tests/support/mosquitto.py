"""A real Mosquitto broker on a free loopback port, with a config written by the test.

Tests never rely on a broker already running. A missing `mosquitto` binary is an error,
not a skip: a skipped real-broker test would hide a missing install step.

Options cover what a real home runs: a password file with one login per agent (`users`),
an ACL file (`acl_file`, e.g. the shipped docs/mosquitto/acl), extra listener settings
(`listener_options`, e.g. `use_username_as_clientid true`), TLS, and client
certificates (`require_certificate`, with `client_certificate()` to make one).
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

MOSQUITTO_PATHS = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
DYNSEC_PLUGINS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
)


def find_mosquitto() -> str:
    for candidate in MOSQUITTO_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    raise RuntimeError("mosquitto is not installed: run `apt-get install -y mosquitto` (scripts/test does)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mosquitto:
    """One broker process. `start()` returns once it accepts connections."""

    workdir: Path
    username: str | None = None
    password: str | None = None
    tls: bool = False  # serve MQTT over TLS with a certificate from a CA made for the test
    require_certificate: bool = False  # with tls: clients must show a certificate from the CA
    users: dict[str, str] = field(default_factory=dict)  # more logins: username → password
    acl_file: Path | None = None
    listener_options: list[str] = field(default_factory=list)
    # Mosquitto's dynamic-security plugin with this configuration (its JSON file's content).
    # Unlike acl_file, it checks SUBSCRIBE: a refused subscription gets reason code 0x87.
    dynamic_security: dict[str, Any] | None = None
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def ca_path(self) -> Path:
        """The CA certificate that signed the broker's certificate (with `tls=True`)."""
        return self.workdir / "ca.crt"

    def _make_certificates(self) -> list[str]:
        run = partial(subprocess.run, check=True, capture_output=True, cwd=self.workdir)
        if (self.workdir / "server.crt").exists():  # a restart keeps the CA clients trust
            return self._tls_lines()
        run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Bobby test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ]
        )
        run(
            [
                "openssl",
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ]
        )
        (self.workdir / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                "server.crt",
            ]
        )
        return self._tls_lines()

    def _tls_lines(self) -> list[str]:
        return [
            f"cafile {self.ca_path}",
            f"certfile {self.workdir / 'server.crt'}",
            f"keyfile {self.workdir / 'server.key'}",
            f"require_certificate {'true' if self.require_certificate else 'false'}",
        ]

    def client_certificate(self, name: str, ca: tuple[Path, Path] | None = None) -> tuple[Path, Path]:
        """A client certificate (CN=`name`) and its key, signed by the broker's CA (start() first),
        or by another `ca` (certificate, key) to make one the broker must refuse."""
        ca_cert, ca_key = ca or (self.ca_path, self.workdir / "ca.key")
        run = partial(subprocess.run, check=True, capture_output=True, cwd=self.workdir)
        key, csr, cert = (self.workdir / f"client-{name}.{ext}" for ext in ("key", "csr", "crt"))
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
             "-keyout", str(key), "-out", str(csr)])  # fmt: skip
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "2", "-out", str(cert)])  # fmt: skip
        return cert, key

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} {self.host}",
            "persistence false",
            # Without it, small messages wait for delayed TCP ACKs: ~40 ms per detection.
            "set_tcp_nodelay true",
            # As root, mosquitto would drop to user `mosquitto`, who cannot read our files.
            f"user {getpass.getuser()}",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        logins = dict(self.users)
        if self.username:
            logins[self.username] = self.password or ""
        if logins:
            passwd = self.workdir / "passwd"
            passwd.write_text("")
            passwd.chmod(0o600)
            mosquitto_passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
            for user, password in logins.items():
                subprocess.run(
                    [mosquitto_passwd, "-b", str(passwd), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        if self.dynamic_security is not None:
            plugin = next((p for p in DYNSEC_PLUGINS if Path(p).exists()), None)
            if plugin is None:
                raise RuntimeError(
                    "mosquitto's dynamic-security plugin is missing: apt-get install -y mosquitto"
                )
            dynsec = self.workdir / "dynamic-security.json"
            dynsec.write_text(json.dumps(self.dynamic_security))
            lines += [f"plugin {plugin}", f"plugin_opt_config_file {dynsec}"]
        lines += self.listener_options
        if self.tls:
            lines += self._make_certificates()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> Mosquitto:
        conf = self._write_config()
        self.process = subprocess.Popen(
            [find_mosquitto(), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = self.log_path.read_text() if self.log_path.exists() else ""
                raise RuntimeError(f"mosquitto exited at start: {err}{log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def restart(self, downtime: float = 0.0) -> None:
        """Stop and start again on the same port (retained messages are lost: persistence is off)."""
        self.stop()
        time.sleep(downtime)
        self.start()

    @property
    def url(self) -> str:
        return f"{self.host}:{self.port}"
