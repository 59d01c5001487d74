"""A minimal HTTPS token endpoint and API for lmi's TLS tests.

Serves, over TLS with tests/fixtures/tls/server.pem (signed by the test CA):
  POST /token   -> {"access_token": "tls-token", "token_type": "Bearer", "expires_in": 3600}
  GET  /whoami  -> 200 {"tls": true} with "Authorization: Bearer tls-token", else 401
Prints one line {"port": N} on stdout, then serves until stdin closes.
"""
import http.server
import json
import os
import ssl
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TLS = os.path.join(HERE, "..", "fixtures", "tls")


class Handler(http.server.BaseHTTPRequestHandler):
    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if self.path == "/token":
            self._send(200, {"access_token": "tls-token", "token_type": "Bearer", "expires_in": 3600})
        else:
            self._send(404, {"error": "not_found"})

    def do_GET(self):
        if self.path == "/whoami" and self.headers.get("Authorization") == "Bearer tls-token":
            self._send(200, {"tls": True})
        else:
            self._send(401, {"error": "invalid_token"})

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(TLS, "server.pem"), os.path.join(TLS, "server.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
