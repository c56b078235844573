// Forward declarations of the core-future types, for headers that only name them.
//   #include <reef/core/fwd.hh>
//   reef::future<int> f();   // declaration only; include <reef/core/future.hh> to use
#pragma once

#include <cstddef>

namespace reef {

template <typename T = void>
class [[nodiscard]] future;
template <typename T = void>
class promise;
template <typename T = void>
class shared_future;
template <typename T = void>
class shared_promise;

class task;
class scheduling_group;
class scheduler_hook;

template <typename CharT>
class temporary_buffer;
class deleter;
template <typename CharT>
class input_stream;
template <typename CharT>
class output_stream;
class data_source;
class data_sink;

class abort_source;
class gate;
class condition_variable;
class shared_mutex;
template <typename T>
class queue;
template <typename T>
class pipe;
template <typename T>
class pipe_reader;
template <typename T>
class pipe_writer;
class semaphore;
class semaphore_units;

struct broken_promise;
struct broken_semaphore;
struct semaphore_timed_out;
struct abort_requested_exception;
struct gate_closed_exception;
struct semaphore_queue_full;
struct broken_pipe_exception;
struct broken_condition_variable;

}  // namespace reef
