#include "daemon/media/fingerprint.hpp"

#include <algorithm>
#include <chromaprint.h>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace earshot::media {
namespace {

// Chromaprint works on mono 11025 Hz audio; handing it exactly that spares it its own
// (slower) resampler and matches what fpcalc feeds it.
constexpr int kRate = 11025;

struct FormatClose {
    void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecFree {
    void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameFree {
    void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketFree {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwrFree {
    void operator()(SwrContext* p) const { swr_free(&p); }
};
struct ChromaprintFree {
    void operator()(ChromaprintContext* p) const { chromaprint_free(p); }
};
struct DictFree {
    void operator()(AVDictionary* p) const { av_dict_free(&p); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatClose>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;
using SwrPtr = std::unique_ptr<SwrContext, SwrFree>;
using ChromaprintPtr = std::unique_ptr<ChromaprintContext, ChromaprintFree>;

std::string av_error_text(int code) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(code, buf, sizeof buf);
    return buf;
}

FormatPtr open_input(const std::filesystem::path& file) {
    silence_ffmpeg_logging();
    // FFmpeg would block forever on a FIFO and happily read a device: only regular files.
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    if (ec) throw FingerprintError("cannot read: " + ec.message());
    if (!std::filesystem::is_regular_file(status)) throw FingerprintError("not a regular file");
    // "file:" stops FFmpeg from reading "name:rest.mp3" as a protocol, and the whitelist stops a
    // playlist-like file (HLS, concat) disguised as audio from opening anything but local files.
    const std::string url = "file:" + file.native();
    AVDictionary* raw_opts = nullptr;
    av_dict_set(&raw_opts, "protocol_whitelist", "file", 0);
    std::unique_ptr<AVDictionary, DictFree> opts(raw_opts);
    AVFormatContext* raw = nullptr;
    AVDictionary* opts_ptr = opts.release();
    const int rc = avformat_open_input(&raw, url.c_str(), nullptr, &opts_ptr);
    opts.reset(opts_ptr);
    if (rc < 0) {
        // avformat_open_input frees the context itself on failure.
        if (rc == AVERROR_INVALIDDATA) throw FingerprintError("not a recognised audio file");
        if (rc == AVERROR_EOF) {
            std::error_code size_ec;
            if (std::filesystem::file_size(file, size_ec) == 0 && !size_ec) throw FingerprintError("empty file");
            throw FingerprintError("corrupt or truncated: the file ends before any audio");
        }
        if (rc == AVERROR(ENOMEM)) throw FingerprintError("out of memory");
        // Plain errno values come from opening or reading the file; demuxers use EINVAL and
        // FFmpeg's own codes for what they cannot parse.
        if (rc != AVERROR(EINVAL) && -rc > 0 && -rc < 4096) throw FingerprintError("cannot read: " + av_error_text(rc));
        throw FingerprintError("corrupt or truncated: cannot parse the file (" + av_error_text(rc) + ")");
    }
    return FormatPtr(raw);
}

// Picks the best audio stream. Most demuxers (mp3, flac, ogg, mp4, wav) describe their streams
// while opening; probing the stream info costs extra decoding, so it only runs when they don't.
int find_audio_stream(AVFormatContext* fmt, const AVCodec** decoder) {
    int idx = -1;
    if (!(fmt->ctx_flags & AVFMTCTX_NOHEADER)) {
        idx = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, decoder, 0);
        if (idx >= 0 && fmt->streams[idx]->codecpar->codec_id != AV_CODEC_ID_NONE) return idx;
    }
    const int rc = avformat_find_stream_info(fmt, nullptr);
    if (rc < 0) throw FingerprintError("corrupt or truncated: " + av_error_text(rc));
    idx = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, decoder, 0);
    if (idx == AVERROR_STREAM_NOT_FOUND) throw FingerprintError("no audio stream");
    if (idx == AVERROR_DECODER_NOT_FOUND)
        throw FingerprintError("unsupported format: no decoder for this audio codec");
    if (idx < 0) throw FingerprintError("cannot open: " + av_error_text(idx));
    return idx;
}

// The duration the stream's own header states (Xing frame count, FLAC STREAMINFO, mdhd, last Ogg
// granule, WAV data size); 0 if it states none. Unlike a bitrate-based estimate this is
// trustworthy enough to tell a truncated file from a short one.
double stated_duration(const AVStream* st) {
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) return static_cast<double>(st->duration) * av_q2d(st->time_base);
    return 0;
}

double container_duration(const AVFormatContext* fmt, const AVStream* st) {
    if (const double d = stated_duration(st); d > 0) return d;
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) return static_cast<double>(fmt->duration) / AV_TIME_BASE;
    return 0;
}

// Measures a stream that states no length (FLAC written to a pipe, raw streams without a
// bitrate) by walking its packets: demuxing without decoding reads the file once, cheaply.
double demuxed_duration(AVFormatContext* fmt, int audio) {
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
        if (static_cast<int>(i) != audio) fmt->streams[i]->discard = AVDISCARD_ALL;
    const AVStream* st = fmt->streams[audio];
    PacketPtr packet(av_packet_alloc());
    if (!packet) throw FingerprintError("out of memory");
    std::int64_t first = AV_NOPTS_VALUE, end = 0, summed = 0;
    while (av_read_frame(fmt, packet.get()) >= 0) {
        if (packet->stream_index == audio) {
            summed += std::max<std::int64_t>(0, packet->duration);
            if (packet->pts != AV_NOPTS_VALUE) {
                if (first == AV_NOPTS_VALUE || packet->pts < first) first = packet->pts;
                end = std::max(end, packet->pts + std::max<std::int64_t>(0, packet->duration));
            }
        }
        av_packet_unref(packet.get());
    }
    const std::int64_t ticks = first != AV_NOPTS_VALUE ? end - first : summed;
    return ticks > 0 ? static_cast<double>(ticks) * av_q2d(st->time_base) : 0;
}

// Converts decoded frames to what Chromaprint wants, rebuilding the resampler if the stream
// changes format mid-way (it happens with chained Ogg streams and some broadcast recordings).
class Downmixer {
public:
    // Returns mono s16 samples at kRate for this frame (or, with frame == nullptr, the resampler's tail).
    std::span<const std::int16_t> convert(const AVFrame* frame) {
        if (frame && !matches(frame)) reset(frame);
        if (!swr_) return {};
        const int in_samples = frame ? frame->nb_samples : 0;
        const int capacity = swr_get_out_samples(swr_.get(), in_samples);
        if (capacity <= 0) return {};
        out_.resize(static_cast<std::size_t>(capacity));
        auto* out_ptr = reinterpret_cast<std::uint8_t*>(out_.data());
        const int n = swr_convert(swr_.get(), &out_ptr, capacity,
                                  frame ? const_cast<const std::uint8_t**>(frame->extended_data) : nullptr, in_samples);
        if (n < 0) throw FingerprintError("resampler failed: " + av_error_text(n));
        return {out_.data(), static_cast<std::size_t>(n)};
    }

private:
    bool matches(const AVFrame* f) const {
        return swr_ && f->format == in_format_ && f->sample_rate == in_rate_ && f->ch_layout.nb_channels == in_channels_;
    }

    void reset(const AVFrame* f) {
        AVChannelLayout in_layout{};
        if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || av_channel_layout_check(&f->ch_layout) == 0)
            av_channel_layout_default(&in_layout, f->ch_layout.nb_channels);
        else if (av_channel_layout_copy(&in_layout, &f->ch_layout) < 0)
            throw FingerprintError("out of memory");
        AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
        SwrContext* raw = nullptr;
        int rc = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_S16, kRate, &in_layout,
                                     static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
        av_channel_layout_uninit(&in_layout);
        SwrPtr swr(raw);
        if (rc < 0) throw FingerprintError("decoder rejected audio: unusable sample format (" + av_error_text(rc) + ")");
        // The settings Chromaprint's fpcalc uses ("compatible mode"): a short filter is plenty
        // for 11 kHz feature extraction and several times cheaper than swresample's default.
        av_opt_set_int(swr.get(), "filter_size", 16, 0);
        av_opt_set_int(swr.get(), "phase_shift", 8, 0);
        av_opt_set_int(swr.get(), "linear_interp", 1, 0);
        av_opt_set_double(swr.get(), "cutoff", 0.8, 0);
        if ((rc = swr_init(swr.get())) < 0)
            throw FingerprintError("decoder rejected audio: unusable sample format (" + av_error_text(rc) + ")");
        swr_ = std::move(swr);
        in_format_ = f->format;
        in_rate_ = f->sample_rate;
        in_channels_ = f->ch_layout.nb_channels;
    }

    SwrPtr swr_;
    int in_format_ = -1, in_rate_ = 0, in_channels_ = 0;
    std::vector<std::int16_t> out_;
};

} // namespace

void silence_ffmpeg_logging() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_level(AV_LOG_QUIET); });
}

Fingerprint compute_fingerprint(const std::filesystem::path& file, double max_seconds) {
    if (!(max_seconds > 0)) throw std::invalid_argument("compute_fingerprint: max_seconds must be positive");
    FormatPtr fmt = open_input(file);
    const AVCodec* decoder = nullptr;
    const int audio = find_audio_stream(fmt.get(), &decoder);
    if (!decoder) throw FingerprintError("unsupported format: no decoder for this audio codec");
    // Only the audio stream's packets are wanted: cover art and video are skipped by the demuxer.
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
        if (static_cast<int>(i) != audio) fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream* st = fmt->streams[audio];

    CodecPtr codec(avcodec_alloc_context3(decoder));
    if (!codec) throw FingerprintError("out of memory");
    if (int rc = avcodec_parameters_to_context(codec.get(), st->codecpar); rc < 0)
        throw FingerprintError("decoder rejected audio: " + av_error_text(rc));
    // One thread per decoder: the scanner already runs one file per core, and frame threading
    // would only add latency and memory for audio.
    codec->thread_count = 1;
    codec->pkt_timebase = st->time_base;
    if (int rc = avcodec_open2(codec.get(), decoder, nullptr); rc < 0)
        throw FingerprintError("decoder rejected audio: " + av_error_text(rc));

    ChromaprintPtr chroma(chromaprint_new(CHROMAPRINT_ALGORITHM_DEFAULT));
    if (!chroma || !chromaprint_start(chroma.get(), kRate, 1)) throw FingerprintError("chromaprint failed to start");

    const auto max_samples = static_cast<std::int64_t>(std::llround(max_seconds * kRate));
    std::int64_t fed = 0;
    auto feed = [&](std::span<const std::int16_t> samples) {
        const auto n = std::min<std::int64_t>(static_cast<std::int64_t>(samples.size()), max_samples - fed);
        if (n <= 0) return;
        if (!chromaprint_feed(chroma.get(), samples.data(), static_cast<int>(n))) throw FingerprintError("chromaprint rejected audio");
        fed += n;
    };

    PacketPtr packet(av_packet_alloc());
    FramePtr frame(av_frame_alloc());
    if (!packet || !frame) throw FingerprintError("out of memory");
    Downmixer downmix;
    int errors = 0, last_error = 0;
    std::int64_t frames_decoded = 0;

    // Pulls every frame the decoder has ready; decode errors are counted and skipped so that one
    // damaged frame doesn't cost the whole fingerprint.
    auto drain = [&] {
        for (;;) {
            const int rc = avcodec_receive_frame(codec.get(), frame.get());
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
            if (rc < 0) {
                ++errors;
                last_error = rc;
                return;
            }
            ++frames_decoded;
            feed(downmix.convert(frame.get()));
            av_frame_unref(frame.get());
            if (fed >= max_samples) return;
        }
    };

    // A file of garbage can yield endless undecodable packets: give up once errors dominate.
    // Demuxers report a damaged stretch as a read error and resync on the next call, so a few
    // read errors in a row are skipped too.
    constexpr int kMaxErrorsBeforeAudio = 64;
    constexpr int kMaxReadErrorsInARow = 16;
    int read_errors_in_a_row = 0;
    while (fed < max_samples) {
        const int rc = av_read_frame(fmt.get(), packet.get());
        if (rc < 0) {
            if (rc == AVERROR_EOF || avio_feof(fmt->pb) || ++read_errors_in_a_row > kMaxReadErrorsInARow) break;
            ++errors;
            last_error = rc;
            continue;
        }
        read_errors_in_a_row = 0;
        if (packet->stream_index == audio) {
            const int sent = avcodec_send_packet(codec.get(), packet.get());
            if (sent < 0 && sent != AVERROR(EAGAIN)) {
                ++errors;
                last_error = sent;
            }
            drain();
        }
        av_packet_unref(packet.get());
        if (frames_decoded == 0 && errors >= kMaxErrorsBeforeAudio) break;
    }
    const bool hit_limit = fed >= max_samples;
    if (!hit_limit) {
        // End of input: flush the decoder's and the resampler's delayed samples.
        if (avcodec_send_packet(codec.get(), nullptr) >= 0) drain();
        if (fed < max_samples) feed(downmix.convert(nullptr));
    }

    if (frames_decoded == 0) {
        if (last_error != 0) throw FingerprintError("decoder rejected audio: " + av_error_text(last_error));
        throw FingerprintError("decoder rejected audio: no audio frames found");
    }

    const double decoded_s = static_cast<double>(fed) / kRate;
    const double stated = stated_duration(st);
    // A header that promises much more audio than the file delivers means the file was cut short
    // (an interrupted copy or download); its fingerprint would describe a different, shorter thing.
    if (!hit_limit && stated > 0) {
        const double expected = std::min(stated, max_seconds);
        if (decoded_s < expected - std::max(2.0, expected * 0.05)) {
            char buf[128];
            std::snprintf(buf, sizeof buf, "corrupt or truncated: audio ends at %.1f s of %.1f s", decoded_s, stated);
            throw FingerprintError(buf);
        }
    }

    if (!chromaprint_finish(chroma.get())) throw FingerprintError("chromaprint failed to finish");
    std::uint32_t* raw_fp = nullptr;
    int size = 0;
    if (!chromaprint_get_raw_fingerprint(chroma.get(), &raw_fp, &size)) throw FingerprintError("chromaprint produced no fingerprint");
    std::unique_ptr<std::uint32_t, decltype(&chromaprint_dealloc)> owned(raw_fp, &chromaprint_dealloc);
    if (size <= 0) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "audio too short to fingerprint (%.1f s)", decoded_s);
        throw FingerprintError(buf);
    }

    Fingerprint out;
    out.raw.assign(raw_fp, raw_fp + size);
    const double container = container_duration(fmt.get(), st);
    out.duration_s = container > 0 ? container : decoded_s;
    return out;
}

AudioProbe probe_audio(const std::filesystem::path& file) {
    FormatPtr fmt = open_input(file);
    // Here the full probe is wanted: the point is to learn what the headers alone don't say.
    if (int rc = avformat_find_stream_info(fmt.get(), nullptr); rc < 0)
        throw FingerprintError("corrupt or truncated: " + av_error_text(rc));
    const int audio = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (audio < 0) throw FingerprintError("no audio stream");
    const AVStream* st = fmt->streams[audio];
    const AVCodecParameters* par = st->codecpar;

    AudioProbe out;
    out.codec = avcodec_get_name(par->codec_id);
    out.duration_s = container_duration(fmt.get(), st);
    if (out.duration_s <= 0) out.duration_s = demuxed_duration(fmt.get(), audio);
    const std::int64_t bit_rate = par->bit_rate > 0 ? par->bit_rate : fmt->bit_rate;
    out.bitrate_kbps = bit_rate > 0 ? static_cast<std::uint32_t>((bit_rate + 500) / 1000) : 0;
    out.sample_rate = par->sample_rate > 0 ? static_cast<std::uint32_t>(par->sample_rate) : 0;
    out.channels = par->ch_layout.nb_channels > 0 ? static_cast<std::uint32_t>(par->ch_layout.nb_channels) : 0;
    for (const AVDictionary* dict : {static_cast<const AVDictionary*>(fmt->metadata), static_cast<const AVDictionary*>(st->metadata)}) {
        const AVDictionaryEntry* e = nullptr;
        while ((e = av_dict_get(dict, "", e, AV_DICT_IGNORE_SUFFIX))) out.tags.emplace_back(e->key, e->value);
    }
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
        if (fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC) out.has_cover = true;
    return out;
}

} // namespace earshot::media
