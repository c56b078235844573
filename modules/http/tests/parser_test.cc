#include <reef/http/parser.hh>

#include <catch2/catch.hpp>

TEST_CASE("the method names are the tokens of RFC 9110", "[http]") {
    CHECK(reef::http::to_string(reef::http::method::get) == "GET");
}
