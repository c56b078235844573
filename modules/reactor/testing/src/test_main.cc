// main() of reactor-aware test programs: Catch2 with its TAP reporter available.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <catch2/catch_reporter_tap.hpp>
