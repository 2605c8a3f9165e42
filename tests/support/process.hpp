#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace earshot::test {

// A child process started with posix_spawn (no shell), its stdout and stderr
// appended to a log file. The destructor sends SIGTERM and reaps it.
class Process {
public:
    Process(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& log);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    int pid() const { return pid_; }
    bool running();
    // SIGKILL, no chance to clean up: the crash the index must survive.
    void kill9();
    // Sends `sig` (e.g. SIGINT, as Ctrl-C does) and returns at once; wait() for the exit.
    void signal(int sig);
    // SIGTERM and wait up to `timeout`; returns the exit status (or -1).
    int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Waits for a normal exit; returns the exit code, -1 on timeout or signal.
    int wait(std::chrono::milliseconds timeout);
    std::string log_text() const;

private:
    int pid_ = -1;
    int status_ = 0;
    bool reaped_ = false;
    std::filesystem::path log_;
};

// Runs a program to completion (no shell) and returns its exit code; output
// goes to `log` when given, else is discarded.
int run(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& log = {});

// Runs a program (looked up in PATH, no shell) and collects its output.
struct ProgramOutput {
    int exit_code = -1; // -1 if it died from a signal
    std::string out, err;
};
ProgramOutput run_program(const std::vector<std::string>& argv);

// A TCP port on 127.0.0.1 that was free a moment ago and that no other
// test process will be handed while this one runs: each port is claimed by
// an flock on /tmp/earshot-test-ports/PORT, held until this process exits
// (the kernel drops it then, even after kill -9), so parallel CTest jobs
// never pick the same port. Within one process a port is handed out once.
unsigned short free_port();

} // namespace earshot::test
