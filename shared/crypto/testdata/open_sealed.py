#!/usr/bin/env python3
"""An independent receiver for Medley's sealed updates, for shared/crypto/interop.test.ts.

Written only from the format's definition (shared/crypto/transcript.ts, sealed-update.ts,
model-signature.ts), with PyNaCl (Debian: python3-nacl) and hashlib, so that a change on the
TypeScript side that breaks the wire format, or that only round-trips with itself, shows up.

  open_sealed.py DIR               open the sealed update written to DIR; print JSON
                                   {"sha256": hex of the concatenated plaintext, "trailer": text, ...}
  open_sealed.py --sign-model DIR  sign DIR/claim.json with DIR/secret_key.hex; print the hex signature
  open_sealed.py --transcript      read {"domain": s, "fields": [{"s": str} | {"n": int} | {"b": hex}]}
                                   on stdin; print the hex transcript digest

Any failure (bad signature, failed decryption, mismatch) exits non-zero with a message on stderr.
"""

import hashlib
import json
import os
import struct
import sys

try:
    from nacl import bindings as nb
    from nacl.exceptions import BadSignatureError, CryptoError
except ImportError:  # pragma: no cover
    sys.stderr.write("PyNaCl is not installed: install python3-nacl (apt-get install python3-nacl)\n")
    sys.exit(3)


class Refused(Exception):
    pass


# --- transcript: SHA-256 over (tag u8, length u32 BE, bytes) for the domain and every field ---

TAG_DOMAIN, TAG_STRING, TAG_NUMBER, TAG_BYTES = 0, 1, 2, 3


def _put(h, tag, data):
    h.update(struct.pack(">BI", tag, len(data)))
    h.update(data)


def transcript(domain, fields):
    h = hashlib.sha256()
    _put(h, TAG_DOMAIN, domain.encode("utf-8"))
    for f in fields:
        if isinstance(f, bool):
            raise TypeError("booleans are not transcript fields")
        if isinstance(f, str):
            _put(h, TAG_STRING, f.encode("utf-8"))
        elif isinstance(f, int):
            if f < 0 or f > 2**53 - 1:
                raise ValueError("transcript number out of range: %r" % f)
            _put(h, TAG_NUMBER, struct.pack(">Q", f))
        elif isinstance(f, (bytes, bytearray)):
            _put(h, TAG_BYTES, bytes(f))
        else:
            raise TypeError("unsupported transcript field %r" % (f,))
    return h.digest()


def layout(tensors):
    out = []
    for t in tensors:
        out += [t["name"], t["dtype"], "x".join(str(d) for d in t["shape"]), t["offset"], t["byteLength"]]
    return out


def binding_digest(b):
    return transcript("medley-update-binding-v1", [
        b["federation"], b["round"], b["taskId"], b["site"], b["sessionId"], b["baseVersion"],
        b["numExamples"], b["kind"], b["totalBytes"], b["formatVersion"], len(b["tensors"]),
    ] + layout(b["tensors"]))


def claim_transcript(c):
    text = lambda s: hashlib.sha256(s.encode("utf-8")).digest()
    return transcript("medley-model-v1", [
        c["federation"], c["version"], c["sha256"], c["totalBytes"], text(c["topologyJson"]),
        text(c["specJson"]), len(c["tensors"]),
    ] + layout(c["tensors"]))


def verify_detached(public_key, message, signature):
    if len(signature) != 64:
        raise Refused("signature is %d bytes, not 64" % len(signature))
    try:
        # crypto_sign_open takes the combined form: signature || message.
        opened = nb.crypto_sign_open(signature + message, public_key)
    except BadSignatureError:
        return False
    return opened == message


def chunk_nonce(index, final):
    return struct.pack("<QI", index, 1 if final else 0)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def open_sealed(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        m = json.load(f)
    hx = lambda k: bytes.fromhex(m[k])
    digest = hx("digest")
    sealed_key = hx("sealedKey")
    header_sig = hx("headerSignature")
    final_sig = hx("finalSignature")
    chunks = int(m["chunks"])
    site_pk = hx("sitePublicKey")
    coord_sk = hx("coordinatorSecretKey")
    if len(site_pk) != 32 or len(coord_sk) != 64:
        raise Refused("bad key sizes")
    coord_pk = nb.crypto_sign_ed25519_sk_to_pk(coord_sk)

    if "binding" in m and binding_digest(m["binding"]) != digest:
        raise Refused("binding digest recomputed from binding.json differs from the given one")

    header = transcript("medley-update-header-v1", [digest, coord_pk, sealed_key])
    if not verify_detached(site_pk, header, header_sig):
        raise Refused("header signature does not verify")

    box_pk = nb.crypto_sign_ed25519_pk_to_curve25519(coord_pk)
    box_sk = nb.crypto_sign_ed25519_sk_to_curve25519(coord_sk)
    try:
        key = nb.crypto_box_seal_open(sealed_key, box_pk, box_sk)
    except CryptoError:
        raise Refused("sealed key does not open with the coordinator's key")
    if len(key) != 32:
        raise Refused("sealed key is %d bytes" % len(key))

    names = sorted(n for n in os.listdir(directory) if n.startswith("chunk-") and n.endswith(".bin"))
    messages = [read_bytes(os.path.join(directory, n)) for n in names]
    messages.append(read_bytes(os.path.join(directory, "final.bin")))
    if len(messages) != chunks:
        raise Refused("%d messages on disk, %d declared" % (len(messages), chunks))

    tags = hashlib.sha256()
    payload = hashlib.sha256()
    plain_bytes = 0
    trailer = None
    for i, ct in enumerate(messages):
        final = i == len(messages) - 1
        if len(ct) < 16:
            raise Refused("message %d shorter than a tag" % i)
        try:
            pt = nb.crypto_aead_chacha20poly1305_ietf_decrypt(ct, digest, chunk_nonce(i, final), key)
        except CryptoError:
            raise Refused("message %d fails authentication" % i)
        tags.update(ct[-16:])
        if final:
            trailer = pt.decode("utf-8")
        else:
            payload.update(pt)
            plain_bytes += len(pt)

    final_t = transcript("medley-update-final-v1", [digest, tags.digest(), chunks])
    if not verify_detached(site_pk, final_t, final_sig):
        raise Refused("final signature does not verify")

    return {"sha256": payload.hexdigest(), "trailer": trailer, "bytes": plain_bytes, "chunks": chunks}


def sign_model(directory):
    with open(os.path.join(directory, "claim.json")) as f:
        claim = json.load(f)
    with open(os.path.join(directory, "secret_key.hex")) as f:
        sk = bytes.fromhex(f.read().strip())
    signed = nb.crypto_sign(claim_transcript(claim), sk)
    return signed[:64].hex()


def transcript_from_json(doc):
    fields = []
    for f in doc["fields"]:
        if "s" in f:
            fields.append(f["s"])
        elif "n" in f:
            fields.append(int(f["n"]))
        elif "b" in f:
            fields.append(bytes.fromhex(f["b"]))
        else:
            raise ValueError("bad field %r" % (f,))
    return transcript(doc["domain"], fields).hex()


def main(argv):
    try:
        if len(argv) == 2 and argv[0] == "--sign-model":
            print(sign_model(argv[1]))
        elif len(argv) == 1 and argv[0] == "--transcript":
            print(transcript_from_json(json.load(sys.stdin)))
        elif len(argv) == 1:
            print(json.dumps(open_sealed(argv[0])))
        else:
            sys.stderr.write(__doc__)
            return 2
    except Refused as e:
        sys.stderr.write("refused: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
