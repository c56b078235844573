// Everything of Reef's HTTP module (namespace reef::http): for now the HTTP/1.1
// message parser; the server and client join it here.
//   #include <reef/http.hh>
//   reef::http::request_parser p;   // p.feed(buf); p.next() ...
#pragma once

#include <reef/http/fwd.hh>
#include <reef/http/parser.hh>
