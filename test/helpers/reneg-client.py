"""A TLS 1.2 client that switches its client certificate by renegotiating.

Drives the system libssl through ctypes (neither node:tls nor Python's ssl can
present a different certificate in a renegotiation). Usage:
  reneg-client.py PORT CERT1 KEY1 CERT2 KEY2 PAYLOAD_HEX
Handshakes with CERT1, renegotiates (RFC 5746) presenting CERT2, then sends
PAYLOAD and reads until the peer closes (or, with a 7th argument `once`, until
the first record). Prints one JSON object.
"""
import ctypes, json, socket, struct, sys

ssl = ctypes.CDLL("libssl.so.3")
P = ctypes.c_void_p
ssl.TLS_client_method.restype = P
ssl.SSL_CTX_new.restype = P; ssl.SSL_CTX_new.argtypes = [P]
ssl.SSL_CTX_ctrl.restype = ctypes.c_long; ssl.SSL_CTX_ctrl.argtypes = [P, ctypes.c_int, ctypes.c_long, P]
ssl.SSL_new.restype = P; ssl.SSL_new.argtypes = [P]
ssl.SSL_set_fd.argtypes = [P, ctypes.c_int]
ssl.SSL_use_certificate_file.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
ssl.SSL_use_PrivateKey_file.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
for f in ("SSL_connect", "SSL_renegotiate", "SSL_do_handshake"):
    getattr(ssl, f).argtypes = [P]
ssl.SSL_get_error.argtypes = [P, ctypes.c_int]
ssl.SSL_write.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
ssl.SSL_read.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
SSL_CTRL_SET_MAX_PROTO_VERSION, TLS1_2_VERSION, PEM = 124, 0x0303, 1

port = int(sys.argv[1]); c1, k1, c2, k2 = (a.encode() for a in sys.argv[2:6]); payload = bytes.fromhex(sys.argv[6])
out = {}
ctx = ssl.SSL_CTX_new(ssl.TLS_client_method())
ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, TLS1_2_VERSION, None)
s = ssl.SSL_new(ctx)
sock = socket.create_connection(("127.0.0.1", port))
sock.settimeout(None)  # a blocking descriptor for libssl; reads give up after 10 s of silence:
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
ssl.SSL_set_fd(s, sock.fileno())
ssl.SSL_use_certificate_file(s, c1, PEM); ssl.SSL_use_PrivateKey_file(s, k1, PEM)
out["handshake"] = ssl.SSL_connect(s) == 1
if out["handshake"]:
    ssl.SSL_use_certificate_file(s, c2, PEM); ssl.SSL_use_PrivateKey_file(s, k2, PEM)
    out["renegotiateStarted"] = ssl.SSL_renegotiate(s) == 1
    r = ssl.SSL_do_handshake(s)
    out["renegotiated"] = r == 1
    n = ssl.SSL_write(s, payload, len(payload))
    out["written"] = n == len(payload)
    buf = ctypes.create_string_buffer(65536); got = b""
    while n > 0:
        n = ssl.SSL_read(s, buf, 65536)
        if n > 0: got += buf.raw[:n]
        if n > 0 and sys.argv[7:8] == ["once"]: break
    out["response"] = got.hex()
print(json.dumps(out))
