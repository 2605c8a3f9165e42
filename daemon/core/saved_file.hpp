// One private file (0600) that the io thread keeps up to date without ever
// waiting on the disk: save() hands the newest content to the blocking pool,
// which writes it atomically (a temporary, fsync, rename). Writes go out in
// order and coalesce: while one is on the disk only the newest content waits,
// so a burst of changes costs two writes, not one per change, and an older
// content can never land after a newer one.
//
// A caller that must not answer before its change is durable (an HTTP
// request that paired a peer or approved a site) awaits saved() after
// save(). Threading: the io thread only.
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/core/event.hpp"
#include "daemon/core/private_file.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace earshot::core {

class SavedFile {
public:
    // Without a pool (tests, tools) every save writes at once, on the caller's
    // thread, and throws if the write fails.
    SavedFile(asio::any_io_executor ex, Blocking* blocking, std::filesystem::path file)
        : state_(std::make_shared<State>(std::move(ex), blocking, std::move(file))) {}

    const std::filesystem::path& path() const { return state_->file; }

    // Hands `content` to the pool (or, without one, writes it at once).
    void save(std::string content) { state_->queue(std::move(content)); }

    // Returns once everything saved so far is on the disk. Throws what the
    // write threw (std::system_error: a full or read-only disk).
    awaitable<void> saved() {
        auto state = state_;
        const auto generation = state->queued;
        while (state->written < generation) co_await state->done.wait_for(std::chrono::seconds(1));
        if (state->failed && state->failed_generation >= generation) std::rethrow_exception(state->failed);
    }

    // At shutdown, when nothing else is left to serve: writes at once, on
    // this thread. A write still on the pool cannot land over it afterwards.
    void save_now(const std::string& content) {
        auto& s = *state_;
        const auto generation = ++s.queued;
        s.next.reset();
        write_if_newer(*s.disk, s.file, content, generation);
        s.written = generation;
    }

private:
    // The file on the disk: the pool's writes and save_now() take turns, and
    // neither puts an older content over a newer one. The only part a pool
    // thread touches.
    struct Disk {
        std::mutex mutex;
        std::uint64_t generation = 0; // of what the file holds
    };
    static void write_if_newer(Disk& disk, const std::filesystem::path& file, const std::string& content,
                               std::uint64_t generation) {
        std::lock_guard lock(disk.mutex);
        if (generation <= disk.generation) return;
        write_private_file(file, content);
        disk.generation = generation;
    }

    // Shared with the writer coroutine, which may outlive this object by the
    // one write it has on the pool.
    struct State : std::enable_shared_from_this<State> {
        State(asio::any_io_executor e, Blocking* b, std::filesystem::path f)
            : ex(std::move(e)), blocking(b), file(std::move(f)), done(ex) {}

        std::uint64_t queue(std::string content) {
            const auto generation = ++queued;
            if (!blocking) {
                write_if_newer(*disk, file, content, generation); // throws, as the caller's own write would
                written = generation;
                return generation;
            }
            next = std::move(content);
            if (!writing) {
                writing = true;
                asio::co_spawn(ex, drain(shared_from_this()), asio::detached);
            }
            return generation;
        }

        static awaitable<void> drain(std::shared_ptr<State> s) {
            while (s->next) {
                auto content = std::move(*s->next);
                s->next.reset();
                const auto generation = s->queued;
                auto write = [disk = s->disk, file = s->file, content = std::move(content), generation] {
                    write_if_newer(*disk, file, content, generation);
                };
                try {
                    co_await s->blocking->run(std::move(write));
                    s->failed = nullptr; // what an earlier save changed is in this newer content
                } catch (const std::exception& e) {
                    spdlog::warn("cannot write {}: {}", s->file.string(), e.what());
                    s->failed = std::current_exception();
                    s->failed_generation = generation;
                }
                s->written = generation;
                s->done.notify();
            }
            s->writing = false;
        }

        asio::any_io_executor ex;
        Blocking* blocking;
        std::filesystem::path file;
        Event done;
        std::shared_ptr<Disk> disk = std::make_shared<Disk>();
        std::optional<std::string> next; // the newest content not yet handed to the pool
        std::uint64_t queued = 0;        // generations: one per save
        std::uint64_t written = 0;       // the newest generation whose write finished
        bool writing = false;
        std::exception_ptr failed;       // the last write, if it failed, and its generation
        std::uint64_t failed_generation = 0;
    };

    std::shared_ptr<State> state_;
};

} // namespace earshot::core
