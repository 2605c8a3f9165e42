// Runs one test coroutine on an io_context to completion, rethrowing what it threw.
#pragma once

#include "proto/asio.hpp"

#include <exception>

namespace earshot::test {

template <class F>
void run_io(asio::io_context& io, F coroutine) {
    std::exception_ptr error;
    asio::co_spawn(io, coroutine(), [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
}

} // namespace earshot::test
