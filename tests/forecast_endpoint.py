# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A predictor endpoint stand-in on 127.0.0.1: replays a recorded forecast document, or answers as told.

Used by the event-source and endpoint-security tests and by benchmarks/fleet.py;
it records the Authorization header of every request.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.server
import json
import threading


def send_json(handler, doc):
    """Answer one GET with doc as JSON."""
    body = json.dumps(doc).encode()
    handler.send_response(200)
    handler.send_header('Content-Type', 'application/json')
    handler.send_header('Content-Length', str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Endpoint(object):
    """Serves `doc` (or doc() per request) at .url, or calls answer(handler) instead; .seen holds the auth headers."""

    def __init__(self, doc=None, answer=None):
        self.seen = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
                endpoint.seen.append(self.headers.get('Authorization'))
                if answer is not None:
                    answer(self)
                else:
                    send_json(self, doc() if callable(doc) else doc)

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/forecasts' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
