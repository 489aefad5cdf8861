"""A WaveKat phone written from the `mobile::transport` module docs alone, on a second Noise
implementation (PyPI `noiseprotocol`): it pairs with a desktop through its QR URI, streams sealed
frames both ways, then resumes with IK and checks the sealed resume report.

Usage: phone.py <pairing URI> <ws URL>. Prints one `key value` line per fact the Rust test checks;
exits non-zero on any failure.
"""

import base64
import hashlib
import hmac
import json
import struct
import sys
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from noise.connection import Keypair, NoiseConnection
from websockets.sync.client import connect

HEADER = "x-wavekat-mobile-noise"
ENROLL = b"Noise_IKpsk2_25519_AESGCM_SHA256"
RESUME = b"Noise_IK_25519_AESGCM_SHA256"
NOISE_MAX = 65535
PIECE = NOISE_MAX - 16
FRAME, ACK, REPORT = 0, 1, 2
AGENT = "mur"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def multibase(raw):
    n, out = int.from_bytes(raw, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "z" + "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def prologue(mode, did):
    out = b"wavekat-mobile-noise/1"
    for field in (HEADER, mode, AGENT, did):
        data = field.encode()
        out += struct.pack(">H", len(data)) + data
    return out


def transcript(role, wid, did, pubkey, nonce):
    def lp(data):
        return struct.pack("<I", len(data)) + data

    return (lp(b"mur-pair-v2") + lp(b"mur-pair-v2/" + role) + struct.pack("<I", 2) + lp(AGENT.encode())
            + lp(wid.encode()) + lp(did.encode()) + lp(pubkey.encode()) + lp(bytes(nonce)))


def envelope(device, pubkey, payload):
    sig = device.sign(b"mur-bridge-envelope-v1" + struct.pack("<I", 0) + payload)
    return {"payload": list(payload), "sig": list(sig), "key_version": 0,
            "bridge_pubkey_multibase": pubkey}


class Channel:
    """One secure connection: Noise in the upgrade headers, then one record per message."""

    def __init__(self, url, protocol, mode, did, phone_static, desktop_static, psk, payload):
        self.noise = NoiseConnection.from_name(protocol)
        self.noise.set_as_initiator()
        self.noise.set_keypair_from_private_bytes(Keypair.STATIC, phone_static)
        self.noise.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, desktop_static)
        if psk is not None:
            self.noise.set_psks(psk)
        self.noise.set_prologue(prologue(mode, did))
        self.noise.start_handshake()
        msg1 = self.noise.write_message(payload)
        self.ws = connect(url, additional_headers={HEADER: f"{mode}.{b64u(msg1)}"},
                          max_size=4 * 1024 * 1024, compression=None)
        self.noise.read_message(unb64u(self.ws.response.headers[HEADER]))
        assert self.noise.handshake_finished
        self.session_id = self.noise.get_handshake_hash()
        self.opened = 0
        self.sent = 0

    def send(self, kind, payload):
        plain = bytes([kind]) + struct.pack(">Q", self.opened) + payload
        self.ws.send(b"".join(self.noise.encrypt(plain[i:i + PIECE])
                              for i in range(0, len(plain), PIECE)))
        self.sent += 1

    def send_frame(self, frame):
        self.send(FRAME, json.dumps(frame, separators=(",", ":")).encode())

    def recv(self):
        record = self.ws.recv(timeout=10)
        if isinstance(record, str):
            raise RuntimeError("unsealed text on a secure link")
        plain = b"".join(self.noise.decrypt(record[i:i + NOISE_MAX])
                         for i in range(0, len(record), NOISE_MAX))
        self.opened += 1
        return plain[0], struct.unpack(">Q", plain[1:9])[0], plain[9:]

    def recv_frame(self):
        while True:
            kind, ack, payload = self.recv()
            if kind == FRAME:
                frame = json.loads(payload)
                if frame.get("type") == "rejected":
                    raise RuntimeError(f"rejected: {frame}")
                return frame, ack


def main():
    uri, url = sys.argv[1], sys.argv[2]
    qr = {k: v[0] for k, v in parse_qs(urlparse(uri).query).items()}
    wid, token, did, desktop_static = qr["wid"], qr["token"], qr["did"], unb64u(qr["nk"])
    phone = X25519PrivateKey.generate()
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat
    phone_static = phone.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    device = Ed25519PrivateKey.generate()
    pubkey = multibase(device.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    # Enrollment: IKpsk2, PSK = SHA-256(token), message 1's payload = the window id.
    psk = hashlib.sha256(token.encode()).digest()
    ch = Channel(url, ENROLL, "enroll", did, phone_static, desktop_static, psk, wid.encode())
    ch.send_frame({"type": "hello_init", "proto": 2, "agent": AGENT, "pubkey": pubkey, "wid": wid})
    challenge, _ = ch.recv_frame()
    assert challenge["type"] == "pair_challenge" and challenge["did"] == did, challenge
    key = token.encode()
    proof = hmac.new(key, transcript(b"phone->daemon", wid, did, pubkey, challenge["nonce"]),
                     hashlib.sha256).digest()
    ch.send_frame({"type": "hello_proof", "wid": wid, "proof": list(proof)})
    paired, _ = ch.recv_frame()
    confirm = hmac.new(key, transcript(b"daemon->phone", wid, did, pubkey, challenge["nonce"]),
                       hashlib.sha256).digest()
    assert paired["type"] == "paired" and bytes(paired["confirm"]) == confirm, paired
    print("paired", paired["agent"], flush=True)

    ch.send_frame({"type": "envelope", "envelope": envelope(device, pubkey, b'{"id":1}')})
    envelope_seq = ch.sent - 1
    samples = 20_000  # 80,000 bytes of PCM: more than one Noise message once in base64
    pcm = b"".join(struct.pack("<f", (i % 100) / 100.0) for i in range(samples))
    ch.send_frame({"type": "audio_stream_start", "sample_rate": 16000})
    ch.send_frame({"type": "audio_chunk", "data": base64.b64encode(pcm).decode()})
    ch.send_frame({"type": "audio_stream_end"})
    print("sent", ch.sent, flush=True)
    acked = False
    while True:
        kind, ack, payload = ch.recv()
        acked = acked or ack > envelope_seq
        if kind == FRAME:
            frame = json.loads(payload)
            if frame.get("type") == "event":
                print("event", frame["name"], len(json.dumps(frame["payload"])), flush=True)
                break
    while not acked:
        _, ack, _ = ch.recv()
        acked = ack > envelope_seq
    print("acked", envelope_seq, flush=True)
    previous, processed = ch.session_id, ch.sent
    ch.ws.close()

    # Resume: IK with the same static key; message 1's payload = the previous connection's id.
    ch = Channel(url, RESUME, "resume", did, phone_static, desktop_static, None, previous)
    ch.send_frame({"type": "resume", "pubkey": pubkey, "agent": AGENT})
    challenge, _ = ch.recv_frame()
    assert challenge["type"] == "challenge", challenge
    ch.send_frame({"type": "resume_proof",
                   "envelope": envelope(device, pubkey, challenge["nonce"].encode())})
    paired, _ = ch.recv_frame()
    assert paired["type"] == "paired", paired
    kind, _, payload = ch.recv()
    assert kind == REPORT and payload[:32] == previous, (kind, payload)
    count = struct.unpack(">Q", payload[32:40])[0]
    print("resumed report", count, "of", processed, flush=True)
    ch.send_frame({"type": "audio_stream_start", "sample_rate": 16000})
    ch.send_frame({"type": "audio_stream_end"})
    frame, _ = ch.recv_frame()
    print("event", frame["name"], len(json.dumps(frame["payload"])), flush=True)
    ch.ws.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
