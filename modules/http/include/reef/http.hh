// Everything of Reef's HTTP module (namespace reef::http): the HTTP/1.1 message parser
// and the server (routes, requests, replies, static files, metrics); the client joins
// it here.
//   #include <reef/http.hh>
//   reef::http::request_parser p;   // p.feed(buf); p.next() ...
//   reef::http::routes r;  r.get("/", handler);   // served by reef::http::server
#pragma once

#include <reef/http/fwd.hh>
#include <reef/http/parser.hh>

// The server: requests, replies, routing, the server itself and its stock handlers.
#include <reef/http/file_handler.hh>
#include <reef/http/metrics_handler.hh>
#include <reef/http/reply.hh>
#include <reef/http/request.hh>
#include <reef/http/routes.hh>
#include <reef/http/server.hh>

// The client: a per-shard pool of keep-alive connections, plain or TLS.
#include <reef/http/client.hh>
