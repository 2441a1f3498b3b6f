// Fuzzes everything an inbound payload goes through before a handler sees it: decoding, the protocol
// version rule and both incoming factories. Any crash, leak, undefined behaviour or unexpected exception
// type is a finding; FedbiomedError is the expected way to refuse bad input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/json.hpp>
#include <fedbiomed/logger.hpp>
#include <fedbiomed/message.hpp>
#include <fedbiomed/version.hpp>

namespace {

template <class Factory>
void try_factory(Factory factory, const fedbiomed::Json& msg) {
    try {
        (void)factory(msg);
    } catch (const fedbiomed::FedbiomedError&) {
        // refused with an FB code: the expected outcome for bad input
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = fedbiomed::set_log_level("CRITICAL");
    (void)quiet;
    const std::string_view payload(reinterpret_cast<const char*>(data), size);

    fedbiomed::Json msg;
    try {
        msg = fedbiomed::deserialize_msg(payload);
    } catch (const fedbiomed::FedbiomedError&) {
        return 0;
    }

    // What decodes must encode, and encoding is stable: decode(encode(x)) encodes to the same text.
    try {
        const std::string first = fedbiomed::serialize_msg(msg);
        const std::string second = fedbiomed::serialize_msg(fedbiomed::deserialize_msg(first));
        if (first != second) {
            std::abort();
        }
    } catch (const fedbiomed::FedbiomedError&) {
        std::abort();
    }

    if (!msg.is_object()) {
        return 0;
    }
    try {
        (void)fedbiomed::check_message_version(msg);
    } catch (const fedbiomed::FedbiomedError&) {
    }
    try_factory([](const fedbiomed::Json& m) { return fedbiomed::NodeMessages::format_incoming_message(m); },
                msg);
    try_factory(
        [](const fedbiomed::Json& m) { return fedbiomed::ResearcherMessages::format_incoming_message(m); },
        msg);
    return 0;
}
