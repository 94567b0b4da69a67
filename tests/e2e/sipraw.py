"""A tiny raw SIP-over-UDP client for protocol checks the phones cannot make
(odd Expires values, deliberate wrong passwords, garbage).

Digest responses are computed here with hashlib (RFC 2617 / RFC 8760, qop=auth),
independently of the PBX's code.
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
import uuid

ALGOS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def _h(algo, text):
    return ALGOS[algo](text.encode()).hexdigest()


def parse_challenges(resp_text, header="WWW-Authenticate"):
    """[{realm, nonce, algorithm, qop, opaque}] from every ``header`` line."""
    out = []
    for line in resp_text.split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() != header.lower():
            continue
        params = dict(
            (k.lower(), v1 if v1 else v2)
            for k, v1, v2 in re.findall(r'([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', value)
        )
        params.setdefault("algorithm", "MD5")
        params["algorithm"] = params["algorithm"].upper()
        out.append(params)
    return out


def digest_header(ch, method, uri, user, password, nc=1):
    """An Authorization value answering challenge ``ch`` (qop=auth when offered)."""
    algo = ch["algorithm"]
    ha1 = _h(algo, f"{user}:{ch['realm']}:{password}")
    ha2 = _h(algo, f"{method}:{uri}")
    parts = [
        f'username="{user}"',
        f'realm="{ch["realm"]}"',
        f'nonce="{ch["nonce"]}"',
        f'uri="{uri}"',
        f"algorithm={algo}",
    ]
    if "auth" in [q.strip() for q in ch.get("qop", "").split(",")]:
        cnonce = uuid.uuid4().hex[:16]
        ncs = f"{nc:08x}"
        resp = _h(algo, f"{ha1}:{ch['nonce']}:{ncs}:{cnonce}:auth:{ha2}")
        parts += [f'response="{resp}"', "qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        nonce = ch["nonce"]
        resp = _h(algo, f"{ha1}:{nonce}:{ha2}")
        parts.append(f'response="{resp}"')
    if ch.get("opaque"):
        parts.append(f'opaque="{ch["opaque"]}"')
    return "Digest " + ", ".join(parts)


def status_of(resp_text):
    m = re.match(r"SIP/2\.0 (\d{3})", resp_text or "")
    return int(m.group(1)) if m else None


def header(resp_text, name):
    for line in (resp_text or "").split("\r\n"):
        n, _, v = line.partition(":")
        if n.strip().lower() == name.lower():
            return v.strip()
    return None


class RawClient:
    """One UDP socket on a loopback address (one "device"; 127.0.0.1 unless
    ``host`` says another of 127.0.0.0/8): every request leaves from it."""

    def __init__(self, server_port, user="101", host="127.0.0.1"):
        self.server_port = server_port
        self.user = user
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.call_id = f"raw-{uuid.uuid4().hex}@{host}"
        self.cseq = 0
        self.tag = uuid.uuid4().hex[:10]

    def close(self):
        self.sock.close()

    def send(self, data: bytes):
        self.sock.sendto(data, ("127.0.0.1", self.server_port))

    def recv_final(self, timeout=3.0):
        """The first final (>= 200) response, skipping provisional ones; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                text = self.sock.recvfrom(65535)[0].decode(errors="replace")
            except socket.timeout:
                return None
            code = status_of(text)
            if code is not None and code >= 200:
                return text

    def register(self, expires=120, auth=None, contact_port=None):
        """Send one REGISTER (new CSeq, same Call-ID) and return the final response text."""
        self.cseq += 1
        uri = f"sip:127.0.0.1:{self.server_port}"
        aor = f"sip:{self.user}@127.0.0.1:{self.server_port}"
        lines = [
            f"REGISTER {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.port};rport;branch=z9hG4bK-{uuid.uuid4().hex}",
            f"From: <{aor}>;tag={self.tag}",
            f"To: <{aor}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:{self.user}@{self.host}:{contact_port or self.port}>",
            f"Expires: {expires}",
            "Max-Forwards: 70",
            "User-Agent: spygroup-e2e-raw",
        ]
        if auth:
            lines.append(f"Authorization: {auth}")
        lines.append("Content-Length: 0")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.recv_final()

    def register_with_password(self, password, expires=120, algorithm="MD5"):
        """REGISTER, answer the 401 (with ``algorithm``) using ``password``.
        Returns (first response, final response)."""
        first = self.register(expires=expires)
        if status_of(first) != 401:
            return first, first
        chs = [c for c in parse_challenges(first) if c["algorithm"] == algorithm]
        assert chs, f"no {algorithm} challenge in:\n{first}"
        auth = digest_header(chs[0], "REGISTER", f"sip:127.0.0.1:{self.server_port}", self.user, password)
        return first, self.register(expires=expires, auth=auth)
