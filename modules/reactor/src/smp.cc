// Shard threads and cross-shard messaging.
//
// Between every ordered pair of shards (a, b) there are two single-producer single-
// consumer rings: requests from a to b, and responses from b back to a. A sender batches
// messages per target and flushes the batch into the ring when its shard polls; the
// target's poller takes whole batches. A shard that goes to sleep first announces it
// (reactor_impl::sleeping_), then looks at its incoming rings once more; a sender that
// filled a ring checks that flag after a full fence and wakes the target's backend.
#include <pthread.h>
#include <signal.h>
#include <sched.h>

#include <hwloc.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <barrier>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include <reef/reactor/smp.hh>

#include "reactor_impl.hh"
#include "memory_service.hh"
#include "shard_services.hh"
#include "smp_impl.hh"

namespace reef::detail {

namespace {

// A bounded single-producer single-consumer ring of message pointers. The producer and
// the consumer each keep their index on a cache line of its own, plus a cached copy of
// the other's index, so that a push or pop touches shared lines only when it must.
class spsc_ring {
public:
    static constexpr std::size_t capacity = 256;

    // Producer side: pushes as many of `items` as fit; returns how many.
    std::size_t push(smp_message* const* items, std::size_t n) noexcept {
        std::size_t tail = tail_.load(std::memory_order_relaxed);
        if (capacity - (tail - cached_head_) < n) {
            cached_head_ = head_.load(std::memory_order_acquire);
        }
        std::size_t room = capacity - (tail - cached_head_);
        n = std::min(n, room);
        for (std::size_t i = 0; i < n; ++i) {
            slots_[(tail + i) % capacity] = items[i];
        }
        tail_.store(tail + n, std::memory_order_release);
        return n;
    }

    // Consumer side: takes up to `max` messages; returns how many.
    std::size_t pop(smp_message** out, std::size_t max) noexcept {
        std::size_t head = head_.load(std::memory_order_relaxed);
        if (head == cached_tail_) {
            cached_tail_ = tail_.load(std::memory_order_acquire);
            if (head == cached_tail_) {
                return 0;
            }
        }
        std::size_t n = std::min(max, cached_tail_ - head);
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = slots_[(head + i) % capacity];
        }
        head_.store(head + n, std::memory_order_release);
        return n;
    }

    // Consumer side, before sleeping: is anything there? (acquire: sees the producer's
    // slots if it sees its tail)
    bool empty() const noexcept {
        return head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_acquire);
    }

private:
    alignas(64) std::atomic<std::size_t> head_{0};  // consumer
    std::size_t cached_tail_ = 0;                   // consumer's copy
    alignas(64) std::atomic<std::size_t> tail_{0};  // producer
    std::size_t cached_head_ = 0;                   // producer's copy
    alignas(64) smp_message* slots_[capacity];
};

// The two rings of an ordered pair of shards, and the sender's unflushed batches.
struct shard_pair {
    spsc_ring requests;               // from -> to
    spsc_ring responses;              // to -> from
    std::vector<smp_message*> pending_requests;   // owned by `from`
    std::vector<smp_message*> pending_responses;  // owned by `to`
};

struct smp_state {
    unsigned n = 0;
    std::unique_ptr<shard_pair[]> pairs;  // index from * n + to
    std::vector<reactor_impl*> reactors;

    shard_pair& pair(unsigned from, unsigned to) noexcept { return pairs[from * n + to]; }
};

smp_state* g_smp = nullptr;

// Pushes a batch into a ring and wakes the consumer if it may be asleep. Returns true
// if everything went in.
bool flush(std::vector<smp_message*>& batch, spsc_ring& ring, unsigned consumer) noexcept {
    if (batch.empty()) {
        return true;
    }
    std::size_t done = ring.push(batch.data(), batch.size());
    if (done) {
        g_smp->reactors[consumer]->wake();
    }
    batch.erase(batch.begin(), batch.begin() + std::ptrdiff_t(done));
    return batch.empty();
}

// Drives one shard's side of every pair: flushes what it sends, runs incoming requests,
// completes incoming responses.
class smp_poller final : public poller {
public:
    explicit smp_poller(unsigned self) : self_(self) {}

    bool poll() override {
        bool work = false;
        smp_message* batch[64];
        for (unsigned peer = 0; peer < g_smp->n; ++peer) {
            if (peer == self_) {
                continue;
            }
            auto& out = g_smp->pair(self_, peer);  // we send requests, receive responses
            auto& in = g_smp->pair(peer, self_);   // we receive requests, send responses
            flush(out.pending_requests, out.requests, peer);
            for (std::size_t n; (n = in.requests.pop(batch, 64)) != 0;) {
                work = true;
                auto& r = *g_smp->reactors[self_];
                r.stats().smp_messages_received += n;
                // The requests run here, not as tasks: under the quota all the same.
                r.begin_inline_work();
                for (std::size_t i = 0; i < n; ++i) {
                    auto saved = tl_current_group;
                    tl_current_group = batch[i]->group;
                    batch[i]->run_on_target();
                    tl_current_group = saved;
                }
                r.end_inline_work();
            }
            for (std::size_t n; (n = out.responses.pop(batch, 64)) != 0;) {
                work = true;
                for (std::size_t i = 0; i < n; ++i) {
                    batch[i]->complete_on_sender();
                }
            }
            flush(in.pending_responses, in.responses, peer);
        }
        return work;
    }

    bool try_enter_sleep() override {
        for (unsigned peer = 0; peer < g_smp->n; ++peer) {
            if (peer == self_) {
                continue;
            }
            auto& out = g_smp->pair(self_, peer);
            auto& in = g_smp->pair(peer, self_);
            if (!out.pending_requests.empty() || !in.pending_responses.empty() || !in.requests.empty() ||
                !out.responses.empty()) {
                return false;
            }
        }
        return true;
    }

private:
    unsigned self_;
};

std::vector<unsigned> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof(set), &set) != 0) {
        throw std::system_error(errno, std::system_category(), "sched_getaffinity");
    }
    std::vector<unsigned> cpus;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) {
            cpus.push_back(c);
        }
    }
    return cpus;
}

// Orders `cpus` so that the first ones are on distinct cores (then distinct packages
// come first among those), using hwloc's view of the machine.
std::vector<unsigned> order_by_topology(const std::vector<unsigned>& cpus) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) {
        return cpus;
    }
    std::vector<unsigned> firsts, rest;
    if (hwloc_topology_load(topo) == 0) {
        int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
        std::vector<bool> taken(cpus.size(), false);
        for (int c = 0; c < ncores; ++c) {
            hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, unsigned(c));
            bool first = true;
            for (std::size_t i = 0; i < cpus.size(); ++i) {
                if (!taken[i] && hwloc_bitmap_isset(core->cpuset, cpus[i])) {
                    (first ? firsts : rest).push_back(cpus[i]);
                    taken[i] = true;
                    first = false;
                }
            }
        }
        for (std::size_t i = 0; i < cpus.size(); ++i) {
            if (!taken[i]) {
                rest.push_back(cpus[i]);
            }
        }
    } else {
        firsts = cpus;
    }
    hwloc_topology_destroy(topo);
    firsts.insert(firsts.end(), rest.begin(), rest.end());
    return firsts;
}

void pin_to(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set);
    if (rc != 0) {
        throw std::system_error(rc, std::system_category(), "pthread_setaffinity_np(cpu " + std::to_string(cpu) + ")");
    }
}

// Runs `f` as the first task of the reactor (not inline), so that it runs under the
// task quota like any other task.
future<int> run_as_task(std::function<future<int>()>& f) {
    struct starter final : task {
        std::function<future<int>()>& f;
        promise<int> pr;
        explicit starter(std::function<future<int>()>& fn) : f(fn) {}
        void run_and_dispose() noexcept override {
            futurize_invoke(f).forward_to(std::move(pr));
            delete this;
        }
    };
    auto* t = new starter(f);
    auto fut = t->pr.get_future();
    schedule(t);
    return fut;
}

}  // namespace

void smp_send(smp_message* m) noexcept {
    ++g_smp->reactors[m->from]->stats().smp_messages_sent;
    g_smp->pair(m->from, m->to).pending_requests.push_back(m);
}

void smp_respond(smp_message* m) noexcept {
    g_smp->pair(m->from, m->to).pending_responses.push_back(m);
}

const std::vector<reactor_impl*>& all_reactors() noexcept {
    static const std::vector<reactor_impl*> none;
    return g_smp ? g_smp->reactors : none;
}

std::vector<unsigned> shard_cpus(const smp_config& cfg) {
    auto allowed = allowed_cpus();
    std::vector<unsigned> cpus;
    if (cfg.cpus.empty()) {
        cpus = allowed;
    } else {
        for (unsigned c : cfg.cpus) {
            if (std::find(allowed.begin(), allowed.end(), c) == allowed.end()) {
                throw std::invalid_argument("cpu " + std::to_string(c) + " of --cpuset is not available to this process");
            }
            cpus.push_back(c);
        }
    }
    return order_by_topology(cpus);
}

int run_shards(const smp_config& cfg, std::function<future<int>()> main) {
    if (g_smp) {
        throw std::logic_error("the shards are already running");
    }
    // A peer that closes its end must be an error on the next write, not a signal that
    // kills the process.
    ::signal(SIGPIPE, SIG_IGN);
    auto cpus = shard_cpus(cfg);
    unsigned n = cfg.count ? cfg.count : unsigned(cpus.size());
    if (n == 0) {
        throw std::invalid_argument("--smp must be at least 1");
    }
    bool pin = !cfg.reactor.overprovisioned;
    if (n > cpus.size()) {
        if (!cfg.reactor.overprovisioned) {
            throw std::invalid_argument("--smp " + std::to_string(n) + " needs " + std::to_string(n) +
                                        " CPUs but only " + std::to_string(cpus.size()) +
                                        " are available (use --overprovisioned to share them)");
        }
    }

    {
        std::vector<unsigned> shard_cpu(n);
        for (unsigned i = 0; i < n; ++i) {
            shard_cpu[i] = cpus[i % cpus.size()];
        }
        memory_prepare(cfg, n, shard_cpu);
    }

    smp_state state;
    state.n = n;
    state.pairs = std::make_unique<shard_pair[]>(std::size_t(n) * n);
    state.reactors.assign(n, nullptr);

    // Build every reactor before any shard runs, so that a bad backend name or a kernel
    // refusal is reported once, on the calling thread.
    std::vector<std::unique_ptr<reactor_impl>> reactors;
    for (unsigned i = 0; i < n; ++i) {
        reactors.push_back(std::make_unique<reactor_impl>(i, cfg.reactor));
        state.reactors[i] = reactors[i].get();
    }
    std::vector<std::unique_ptr<smp_poller>> pollers;
    for (unsigned i = 0; i < n; ++i) {
        pollers.push_back(std::make_unique<smp_poller>(i));
        reactors[i]->add_poller(pollers[i].get());
    }
    g_smp = &state;
    smp::count = n;

    std::barrier<> started{std::ptrdiff_t(n)};
    std::unique_ptr<bool[]> services_up(new bool[n]());
    std::mutex error_mutex;
    std::exception_ptr thread_error;
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < n; ++i) {
        threads.emplace_back([&, i] {
            try {
                if (pin) {
                    pin_to(cpus[i % cpus.size()]);
                }
                tl_shard_id = i;
                reactors[i]->bind_to_thread();
                start_shard_services(*reactors[i]);
                services_up[i] = true;
            } catch (...) {
                std::lock_guard lock(error_mutex);
                thread_error = std::current_exception();
            }
            started.arrive_and_wait();
            if (!thread_error) {
                reactors[i]->run();
            }
            if (services_up[i]) {
                stop_shard_services(*reactors[i]);
            }
            reactors[i]->unbind_from_thread();
        });
    }

    std::exception_ptr main_error;
    int exit_code = 0;
    try {
        if (pin) {
            pin_to(cpus[0]);
        }
        tl_shard_id = 0;
        reactors[0]->bind_to_thread();
        start_shard_services(*reactors[0]);
        services_up[0] = true;
    } catch (...) {
        std::lock_guard lock(error_mutex);
        thread_error = std::current_exception();
    }
    started.arrive_and_wait();
    if (!thread_error) {
        // The main function runs as the first task of shard 0; its completion stops
        // every shard.
        auto done = run_as_task(main).then_wrapped([&](future<int> f) noexcept {
            if (f.failed()) {
                main_error = f.get_exception();
            } else {
                exit_code = f.get();
            }
            for (unsigned i = 1; i < n; ++i) {
                reactors[i]->request_stop();
            }
            reactors[0]->request_stop();
        });
        reactors[0]->run();
        done.ignore_ready_future();
    } else {
        for (unsigned i = 1; i < n; ++i) {
            reactors[i]->request_stop();
        }
    }
    for (auto& t : threads) {
        t.join();
    }
    if (services_up[0]) {
        stop_shard_services(*reactors[0]);
    }
    reactors[0]->unbind_from_thread();
    tl_shard_id = 0;

    // Calls still in flight when the shards stopped cannot complete: their waiters
    // belonged to shards that no longer run. Report them; they are not freed, since
    // freeing one would wake a task of a stopped shard.
    std::size_t stranded = 0;
    for (unsigned a = 0; a < n; ++a) {
        for (unsigned b = 0; b < n; ++b) {
            auto& p = state.pair(a, b);
            smp_message* m;
            while (p.requests.pop(&m, 1)) {
                ++stranded;
            }
            while (p.responses.pop(&m, 1)) {
                ++stranded;
            }
            stranded += p.pending_requests.size() + p.pending_responses.size();
        }
    }
    if (stranded) {
        std::fprintf(stderr, "reef: %zu cross-shard calls were still in flight when the shards stopped\n", stranded);
    }
    for (unsigned i = 0; i < n; ++i) {
        reactors[i]->remove_poller(pollers[i].get());
    }
    reactors.clear();
    g_smp = nullptr;
    smp::count = 1;
    if (thread_error) {
        std::rethrow_exception(thread_error);
    }
    if (main_error) {
        std::rethrow_exception(main_error);
    }
    return exit_code;
}

}  // namespace reef::detail
