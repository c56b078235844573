// The main() of a benchmark program: link it (through the harness dependency) and
// register benchmarks with REEF_BENCH or reef::bench::add().
#include "bench.hh"

int main(int argc, char** argv) {
    return reef::bench::run_main(argc, argv);
}
