"""A loopback git server for lmi's credential-helper tests.

Serves the bare repositories under ROOT over git's dumb HTTP protocol
(plain files: info/refs, HEAD, objects/...), and only to requests with HTTP
Basic credentials whose password is a token the test API accepts: each
password is checked with GET <VALIDATE_URL> and "Authorization: Bearer
<password>". A request without credentials, or with a refused password,
gets 401 with a Basic challenge, which is what makes git ask its credential
helpers.

Each request with credentials appends one JSON line to LOG before it is
answered: {"path", "username", "password", "accepted"}.

Usage: git_server.py ROOT VALIDATE_URL LOG
Prints one line {"port": N} on stdout, then serves until stdin closes.
"""
import base64
import http.server
import json
import os
import sys
import threading
import urllib.error
import urllib.request

ROOT, VALIDATE_URL, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
LOG_LOCK = threading.Lock()


def token_is_valid(token):
    request = urllib.request.Request(VALIDATE_URL, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return False


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def credentials(self):
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return username, password

    def challenge(self):
        body = b"authentication required\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="lmi test git"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        creds = self.credentials()
        if creds is None:
            return False
        username, password = creds
        accepted = token_is_valid(password)
        with LOG_LOCK, open(LOG, "a") as log:
            entry = {"path": self.path, "username": username, "password": password, "accepted": accepted}
            log.write(json.dumps(entry) + "\n")
        return accepted

    def do_GET(self):
        if not self.authorized():
            self.challenge()
            return
        super().do_GET()

    def do_HEAD(self):
        if not self.authorized():
            self.challenge()
            return
        super().do_HEAD()

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
