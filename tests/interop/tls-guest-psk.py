#!/usr/bin/env python3
"""The TLS PSK a Linux host's .nvme keyring holds for an NVMe/TCP connection.

    tls-guest-psk.py [--compat | --old-libnvme] VERSION HOSTNQN SUBNQN < key.txt

reads a configured PSK in the interchange format (`nvme gen-tls-key`) and
prints two lines: the PSK identity (version 0 "NVMe0R0h HOSTNQN SUBNQN" or
version 1 "NVMe1R0h HOSTNQN SUBNQN DIGEST") and the TLS PSK in hex. That
pair is what `nvme check-tls-key --insert` (libnvme >= 1.4, RFC 8446
HkdfLabel since 1.11) puts into the keyring as a "psk" key; Debian 12's
nvme-cli 2.3 cannot, so the tls scenario inserts it with keyctl.

--compat derives with libnvme's non-RFC HkdfLabel (little-endian length,
no length bytes before label and context), as `nvme check-tls-key --compat`
does in nvme-cli >= 2.11 (libnvme's derive_*_compat). --old-libnvme as
libnvme 1.4-1.10 did by default: that HkdfLabel, and for a version 1
identity the whole identity as the context (for version 0 the two agree).

The derivation is tests/unit/gen_tls_psk_vectors.py's: Python's hashlib and
hmac from the specification's text, independent of nvmfd's OpenSSL code.
The key comes on stdin so that it is never in a command line.
"""
import base64
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit"))
import gen_tls_psk_vectors as psk  # noqa: E402


def parse_interchange(text):
    fields = text.strip().split(":")
    if len(fields) < 3 or fields[0] != "NVMeTLSkey-1":
        sys.exit("not an NVMeTLSkey-1 interchange key")
    raw = base64.b64decode(fields[2])
    key, crc = raw[:-4], raw[-4:]
    if len(key) not in (32, 48) or struct.pack("<I", zlib.crc32(key) & 0xFFFFFFFF) != crc:
        sys.exit("bad interchange key (length or CRC-32)")
    return int(fields[1]), key


def main():
    args = sys.argv[1:]
    mode = args.pop(0) if args and args[0] in ("--compat", "--old-libnvme") else ""
    if len(args) != 3 or args[0] not in ("0", "1"):
        sys.exit(__doc__)
    version, hostnqn, subnqn = int(args[0]), args[1], args[2]
    key_hash, key = parse_interchange(sys.stdin.read())
    id_hash = 1 if len(key) == 32 else 2
    compat = bool(mode)
    retained = psk.retained(key_hash, key, hostnqn, compat=compat)
    identity, tls_psk = psk.tls_psk(version, id_hash, retained, hostnqn, subnqn, compat=compat,
                                    whole_identity=mode == "--old-libnvme")
    print(identity)
    print(tls_psk.hex())


if __name__ == "__main__":
    main()
