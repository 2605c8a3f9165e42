// The daemon's pool for work that may block: file reads and writes, stat,
// fsync, hashing, LMDB reads of many records, directory walks. The io thread
// owns all state and all sockets and never waits on a disk; a coroutine there
// hands a job to this pool with `co_await blocking.run(fn)` and resumes on its
// own executor when the job is done. So a file whose reads hang (a spun-down
// NAS, a stalled network mount) delays only the coroutines that wait on that
// file: HTTP, peer links and every other stream keep going.
//
// Jobs run on any of the pool's threads, in parallel: what they touch must be
// either their own (a buffer, a file descriptor) or made for threads (LMDB
// read transactions, the catalogue's lock, ChunkCache's mutex). A job that
// throws rethrows in the awaiting coroutine.
//
// The bound is the thread count: each thread blocked on a hung file is one
// fewer for everyone else, so the default leaves room for several hung files
// before healthy work waits (threads blocked in the kernel cost no CPU).
#pragma once

#include "proto/asio.hpp"

#include <exception>
#include <optional>
#include <type_traits>

namespace earshot::core {

class Blocking {
public:
    static constexpr std::size_t default_threads = 8;
    explicit Blocking(std::size_t threads = default_threads) : pool_(threads) {}
    // Waits for the jobs that are running (a job blocked in a hung read holds
    // shutdown until the read returns); queued ones are dropped.
    ~Blocking() {
        pool_.stop();
        pool_.join();
    }
    Blocking(const Blocking&) = delete;
    Blocking& operator=(const Blocking&) = delete;

    // Runs fn() on the pool; the awaiting coroutine resumes on its own
    // executor with fn's result (or exception).
    // Not a coroutine itself: it returns the operation to co_await, so no
    // extra frame holds the job (and GCC 12 has no temporaries to mishandle).
    template <class F>
    auto run(F fn) {
        using R = std::invoke_result_t<F&>;
        if constexpr (std::is_void_v<R>) {
            return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
                [this](auto handler, F f) {
                    post_job(std::move(handler), [f = std::move(f)]() mutable {
                        f();
                        return true;
                    });
                },
                use_awaitable, std::move(fn));
        } else {
            return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, R)>(
                [this](auto handler, F f) { post_job(std::move(handler), std::move(f)); }, use_awaitable,
                std::move(fn));
        }
    }

    asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

private:
    // Runs job on the pool, then hands its outcome to handler on the
    // handler's own executor (the awaiting coroutine's).
    template <class Handler, class Job>
    void post_job(Handler handler, Job job) {
        auto home = asio::prefer(asio::get_associated_executor(handler),
                                 asio::execution::outstanding_work.tracked);
        asio::post(pool_, [handler = std::move(handler), job = std::move(job), home = std::move(home)]() mutable {
            using R = std::invoke_result_t<Job&>;
            std::exception_ptr error;
            std::optional<R> result;
            try {
                result.emplace(job());
            } catch (...) {
                error = std::current_exception();
            }
            asio::dispatch(home, [handler = std::move(handler), error, result = std::move(result)]() mutable {
                if constexpr (std::is_invocable_v<Handler&, std::exception_ptr>) {
                    handler(error);
                } else if (error) {
                    handler(error, R{});
                } else {
                    handler(error, std::move(*result));
                }
            });
        });
    }

    asio::thread_pool pool_;
};

} // namespace earshot::core
