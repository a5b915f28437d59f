"""A JSON HTTP server on loopback for tests of clients of outside systems (national registers,
wanted-persons feeds): the test writes the handler's do_GET/do_POST, this serves it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class JsonHandler(BaseHTTPRequestHandler):
    def read_json(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass  # a test's requests are its own business, not stderr's


class JsonServer:
    """Serves ``handler`` on a free loopback port in a daemon thread until close()."""

    def __init__(self, handler: type[JsonHandler], path: str) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class PagedServer:
    """A paged JSON API (the REST source's protocol, kuzet.common.connectors.rest) serving
    ``records``; the page token is the next record's index. ``fail_page``/``fail_times``
    (-1: always)/``fail_status`` make one page fail that many times."""

    def __init__(self, records: list[Any], path: str = "/v1/records") -> None:
        self.records = records
        self.fail_page = 0
        self.fail_times = 0
        self.fail_status = 500
        self.requests: list[tuple[int, str]] = []  # (page, Authorization header)
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                size = int(query["page_size"][0])
                start = int(query.get("page_token", ["0"])[0])
                page = start // size + 1
                server.requests.append((page, self.headers.get("Authorization", "")))
                if page == server.fail_page and server.fail_times != 0:
                    server.fail_times -= 1
                    self.send_json(server.fail_status, {"error": "database maintenance"})
                    return
                end = start + size
                body: dict[str, Any] = {"records": server.records[start:end]}
                if end < len(server.records):
                    body["next_page_token"] = str(end)
                self.send_json(200, body)

        self.server = JsonServer(Handler, path)
        self.url = self.server.url

    def pages_asked(self) -> list[int]:
        return [page for page, _ in self.requests]

    def close(self) -> None:
        self.server.close()
