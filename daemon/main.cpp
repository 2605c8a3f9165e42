// earshotd: runs in the foreground, logs to stderr, stops on SIGINT/SIGTERM.
#include "daemon/app.hpp"
#include "daemon/core/version.hpp"

#include <sodium.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

int main(int argc, char** argv) {
    using namespace earshot;
    int exit_code = 0;
    auto config = daemon::parse_config(argc, argv, exit_code);
    if (!config) return exit_code;

    auto logger = spdlog::stderr_color_mt("earshotd");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(config->log_level));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");

    if (sodium_init() < 0) {
        spdlog::critical("libsodium failed to initialise");
        return 1;
    }
    if (config->libraries.empty()) spdlog::warn("no --library given: serving the existing index only");

    try {
        asio::io_context io(1);
        daemon::App app(io, *config);
        app.start();
        if (config->oneshot) {
            app.library().scanner().wait_idle();
            const auto s = app.library().status();
            std::cout << s.dump(2) << '\n';
            return 0;
        }
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            spdlog::info("signal {} received; stopping", sig);
            app.stop();
            io.stop();
        });
        spdlog::info("earshotd {} ({}) serving {} library folder(s) from {}", core::version, config->name,
                     config->libraries.size(), config->data_dir.string());
        io.run();
        spdlog::info("stopped");
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
    return 0;
}
