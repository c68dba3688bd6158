"""How the remote commands (`eduscore score`, `eduscore filter --server`) reach servers: TLS,
mutual TLS and the bearer token, as flags and `EDUSCORE_*` variables, turned into the Python
client's options (root_certificates, client_cert, token).

Light on purpose (no grpc import): `eduscore filter --help` loads it.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduscore.pipelines.rows import UsageError

#: (flag, env var, help) of each connection option; flags win over env vars.
_OPTIONS = (
    ("--token", "EDUSCORE_AUTH_TOKEN", "bearer token the server was started with (--auth-token)"),
    ("--tls-ca", "EDUSCORE_TLS_CA", "PEM CA bundle that signed the server's certificate; TLS"),
    ("--tls-cert", "EDUSCORE_CLIENT_CERT", "PEM client certificate chain for mutual TLS"),
    ("--tls-key", "EDUSCORE_CLIENT_KEY", "PEM private key of --tls-cert"),
)
_TRUE = {"1", "true", "yes", "on"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--token, --tls, --tls-ca, --tls-cert and --tls-key, each with its env var."""
    for flag, env, text in _OPTIONS:
        parser.add_argument(flag, default=None, help=f"{text} [env: {env}]")
    parser.add_argument(
        "--tls",
        action="store_true",
        default=None,
        help="speak TLS, trusting the system's CAs (implied by --tls-ca) [env: EDUSCORE_TLS]",
    )


@dataclass(frozen=True, slots=True)
class Connection:
    """What the client needs to reach the servers; `client_kwargs()` goes to EduScoreClient."""

    token: str = ""
    tls: bool = False
    root_certificates: bytes | None = None
    client_cert: tuple[bytes, bytes] | None = None  # (key, chain)

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "tls": self.tls,
            "root_certificates": self.root_certificates,
            "client_cert": self.client_cert,
        }

    def hint(self) -> str:
        """What to try when no server answers: the likely TLS mismatch."""
        if self.tls:
            return (
                "if the server's certificate is not signed by a CA this machine trusts, pass"
                " --tls-ca <that CA's PEM>; with mutual TLS, --tls-cert and --tls-key too"
            )
        return "if the server speaks TLS, pass --tls-ca <its CA's PEM> (or --tls)"


def _value(args: argparse.Namespace, flag: str, environ: Mapping[str, str], env: str) -> str:
    given = getattr(args, flag.lstrip("-").replace("-", "_"), None)
    return given if given is not None else environ.get(env, "")


def _read(flag: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot read ({exc.strerror})") from None


def connection_of(
    args: argparse.Namespace, environ: Mapping[str, str], servers: Sequence[str], prog: str
) -> Connection:
    """The connection options of `args` over `environ`; UsageError for a file that cannot be
    read or a certificate without its key. Warns on stderr when a token would travel in clear
    text to a machine other than this one."""
    token, ca, cert, key = (_value(args, f, environ, e) for f, e, _ in _OPTIONS)
    if bool(cert) != bool(key):
        raise UsageError("--tls-cert and --tls-key go together (mutual TLS): give both")
    tls = bool(args.tls) or environ.get("EDUSCORE_TLS", "").strip().lower() in _TRUE
    tls = tls or bool(ca or cert)
    conn = Connection(
        token=token,
        tls=tls,
        root_certificates=_read("--tls-ca", ca) if ca else None,
        client_cert=(_read("--tls-key", key), _read("--tls-cert", cert)) if cert else None,
    )
    remote = [s for s in servers if not is_loopback(s)]
    if token and not tls and remote:
        print(
            f"{prog}: warning: sending the bearer token in clear text to {', '.join(remote)};"
            " pass --tls-ca (or --tls) if the server speaks TLS",
            file=sys.stderr,
            flush=True,
        )
    return conn


def is_loopback(address: str) -> bool:
    """Whether `host:port` (or a gRPC target such as `ipv4:127.0.0.1:1`, `unix:/path`) names
    this machine. Host names other than localhost count as remote: they are not resolved."""
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    target = address.removeprefix("dns:///").removeprefix("ipv4:").removeprefix("ipv6:")
    if target.startswith("["):  # [::1]:50051
        host = target[1 : target.find("]")]
    else:
        host = target.rsplit(":", 1)[0] if target.count(":") == 1 else target
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
