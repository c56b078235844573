// The Prometheus endpoint: every shard's metrics (the reactor's, the HTTP servers', and
// any the application registered) in the Prometheus text exposition format.
//   routes.get("/metrics", reef::http::metrics_handler());
#pragma once

#include <reef/core/future.hh>
#include <reef/http/reply.hh>
#include <reef/http/request.hh>
#include <reef/http/routes.hh>

namespace reef::http {

/// Collects every shard's metrics (metrics::collect_all(), one cross-shard message per
/// shard) and answers them as `text/plain; version=0.0.4`. Call on a shard.
future<reply> serve_metrics(request& req);

/// A handler calling serve_metrics().
handler metrics_handler();

}  // namespace reef::http
