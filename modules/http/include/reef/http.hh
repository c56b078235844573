// Everything of Reef's HTTP module (namespace reef::http): for now the HTTP/1.1
// message parser; the server and client join it here.
//   #include <reef/http.hh>
//   reef::http::request_parser p;   // p.feed(buf); p.next() ...
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
