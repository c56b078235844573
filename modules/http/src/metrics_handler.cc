// The Prometheus endpoint.
#include <reef/http/metrics_handler.hh>

#include <reef/reactor/metrics.hh>

namespace reef::http {

future<reply> serve_metrics(request&) {
    auto snapshots = co_await metrics::collect_all();
    co_return reply(status_type::ok, metrics::format_prometheus(snapshots),
                    "text/plain; version=0.0.4; charset=utf-8");
}

handler metrics_handler() {
    return handler(&serve_metrics);
}

}  // namespace reef::http
