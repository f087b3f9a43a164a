"""Certificates for the probe's TLS tests, made with the openssl command: a CA
of the test's own, a server certificate it signs (with an IP SAN), and a
self-signed certificate such as an attacker would present."""

from __future__ import annotations

import os
import subprocess
import time


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(dirname, name):
    """dirname/name.crt and name.key: a self-signed certificate with CN=name."""
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.crt",
        cwd=dirname,
    )
    return os.path.join(dirname, f"{name}.crt"), os.path.join(dirname, f"{name}.key")


def make_server_cert(dirname, ca="ca", ip="127.0.0.1"):
    """dirname/server.crt and server.key, signed by ca, for the address ip."""
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN={ip}",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=dirname,
    )
    with open(os.path.join(dirname, "san.ext"), "w") as f:
        f.write(f"subjectAltName=IP:{ip}\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        f"{ca}.crt",
        "-CAkey",
        f"{ca}.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
        cwd=dirname,
    )
    return os.path.join(dirname, "server.crt"), os.path.join(dirname, "server.key")


def enable_tls(srv, certs, service_user):
    """Installs certs/server.{crt,key} into server srv and turns ssl on."""
    for name in ("server.crt", "server.key"):
        dst = os.path.join(srv.datadir, name)
        with open(os.path.join(certs, name)) as src, open(dst, "w") as out:
            out.write(src.read())
        os.chmod(dst, 0o600)
        if os.geteuid() == 0:
            import pwd

            pw = pwd.getpwnam(service_user)
            os.chown(dst, pw.pw_uid, pw.pw_gid)
    srv.sql("ALTER SYSTEM SET ssl = on")
    srv.sql("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while srv.sql("SHOW ssl")[0][0] != "on":
        assert time.monotonic() < deadline, srv.log_tail()
        time.sleep(0.1)
