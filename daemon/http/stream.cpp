// /sid/<sid>: the bytes of one result, with Range, as players expect.
// This only decides *what* to send; the connection loop streams it in pieces.
#include "daemon/http/modules.hpp"
#include "daemon/http/range.hpp"
#include "daemon/http/routes.hpp"

namespace earshot::http {
namespace {

class StreamModule final : public Module {
public:
    explicit StreamModule(StreamSource& streams) : streams_(streams) {}

    void add_routes(RouteTable& routes) override {
        // Players get a plain URL and send no browser headers, so no token; a
        // page of another site needs its site token, since a content id can be
        // computed from a file the site already has.
        routes.add(Route{.pattern = "/sid/*",
                         .methods = {bhttp::verb::get, bhttp::verb::head},
                         .policy = Policy::player,
                         .cors = Cors::any,
                         .handler = [this](const Request& req) { return handle(req); },
                         .stranger_refusal = "play streams"});
    }

private:
    awaitable<Reply> handle(const Request& req);
    StreamSource& streams_;
};

awaitable<Reply> StreamModule::handle(const Request& req) {
    // "/sid/<sid>" exactly; parse_target already refused dot segments and encoded slashes.
    if (req.path.size() != 2 || !valid_id(req.path[1]))
        throw HttpError(bhttp::status::not_found, "no such stream");
    const auto& sid = req.path[1];
    auto source = co_await streams_.open_stream(sid);
    if (!source) throw HttpError(bhttp::status::not_found, "unknown sid '" + sid + "'");

    const std::uint64_t size = source->size();
    std::string mimetype = source->mimetype();
    if (mimetype.empty()) mimetype = "application/octet-stream";
    // The sid names exact bytes, so it is a strong validator.
    const std::string etag = "\"" + sid + "\"";

    Reply reply;
    reply.fields.set(bhttp::field::accept_ranges, "bytes");
    reply.fields.set(bhttp::field::etag, etag);

    RangeRequest range;
    if (const auto header = req.header(bhttp::field::range)) {
        // If-Range: honour Range only while the client's copy is this one. We
        // have no Last-Modified, so a date can never validate: send it all.
        const auto if_range = req.header(bhttp::field::if_range);
        if (!if_range || *if_range == etag) range = parse_range(*header, size);
    }

    switch (range.kind) {
    case RangeRequest::Kind::unsatisfiable: {
        auto err = error_reply(bhttp::status::range_not_satisfiable,
                               "range not satisfiable: the stream has " + std::to_string(size) + " bytes");
        err.fields.set(bhttp::field::accept_ranges, "bytes");
        err.fields.set(bhttp::field::content_range, "bytes */" + std::to_string(size));
        co_return err;
    }
    case RangeRequest::Kind::partial:
        reply.status = bhttp::status::partial_content;
        reply.fields.set(bhttp::field::content_range, "bytes " + std::to_string(range.range.first) + "-" +
                                                          std::to_string(range.range.last) + "/" + std::to_string(size));
        reply.fields.set(bhttp::field::content_type, mimetype);
        reply.stream = StreamBody{std::move(source), range.range.first, range.range.length()};
        co_return reply;
    case RangeRequest::Kind::whole:
        break;
    }
    reply.fields.set(bhttp::field::content_type, mimetype);
    reply.stream = StreamBody{std::move(source), 0, size};
    co_return reply;
}

} // namespace

std::unique_ptr<Module> stream_module(StreamSource& streams) { return std::make_unique<StreamModule>(streams); }

} // namespace earshot::http
