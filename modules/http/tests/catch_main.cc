// The one translation unit that holds Catch2's main(); every http test links it.
// The TAP reporter gives meson one result per test case.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <catch2/catch_reporter_tap.hpp>
