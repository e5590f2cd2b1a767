"""An HTTP front for the PostgREST replay: PostgREST's /rpc/<fn> on a port.

PostgREST itself cannot run here; postgrest.py replays its statements.  This
server puts that replay behind HTTP, so that the nginx configuration the
README gives for PostgREST (docs/nginx/postgrest-routes.conf: the contract's
REST routes rewritten onto /rpc/...) can be tested with a real nginx in front
of it, and compared byte for byte with fynn-gateway serving the same routes.

    python3 emulator.py PORT CONNINFO ANON_ROLE JWT_SECRET [PRE_REQUEST]

Everything PostgREST answers before SQL, and everything it sends to the
database, is postgrest.py's; this file only moves bytes between a socket and
PostgrestReplay.request.  Requests are served one at a time (one libpq
connection), which is all the tests need.
"""
import http.server
import os
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from postgrest import PostgrestReplay  # noqa: E402


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    replay = None
    lock = threading.Lock()

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        url = urllib.parse.urlsplit(self.path)
        if not url.path.startswith("/rpc/"):
            self._answer(404, {"Content-Type": "application/json; charset=utf-8"},
                         b'{"code":"PGRST125","details":null,"hint":null,"message":"Invalid path specified in request URL"}')
            return
        with self.lock:
            answer = self.replay.request(self.command, url.path, url.query, body,
                                         dict(self.headers.items()))
        self._answer(answer.status, answer.headers, answer.body)

    def _answer(self, status, headers, body):
        self.send_response_only(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if status == 204:
            body = b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve

    def log_message(self, fmt, *args):  # quiet: the test prints what matters
        pass


def main():
    port, conninfo, anon_role, secret = sys.argv[1:5]
    pre_request = sys.argv[5] if len(sys.argv) > 5 else None
    Handler.replay = PostgrestReplay(conninfo, anon_role, secret, pre_request=pre_request)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    print(f"emulator listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
