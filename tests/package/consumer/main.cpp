// Uses the library as a user would: every public header, a ping built with the researcher's factory,
// encoded and decoded, a Messaging object (constructed only: no broker is needed), and the library's
// version, from its header and from the linked library.
#include <iostream>
#include <string>
#include <variant>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/json.hpp>
#include <fedbiomed/library_version.hpp>
#include <fedbiomed/logger.hpp>
#include <fedbiomed/message.hpp>
#include <fedbiomed/messaging.hpp>
#include <fedbiomed/version.hpp>

int main() {
    const fedbiomed::Json request = {
        {"researcher_id", "researcher_pkg"}, {"sequence", 42}, {"command", "ping"}};
    const fedbiomed::Json ping =
        fedbiomed::to_json(fedbiomed::ResearcherMessages::format_outgoing_message(request));
    const std::string wire = fedbiomed::serialize_msg(ping);
    std::cout << "ping: " << wire << '\n';

    const fedbiomed::Message decoded =
        fedbiomed::NodeMessages::format_incoming_message(fedbiomed::deserialize_msg(wire));
    const auto* typed = std::get_if<fedbiomed::PingRequest>(&decoded);
    if (typed == nullptr || fedbiomed::serialize_msg(fedbiomed::to_json(decoded)) != wire) {
        std::cerr << "round trip failed\n";
        return 1;
    }
    std::cout << "decoded: " << fedbiomed::message_class(decoded) << " sequence=" << typed->sequence << '\n';

    fedbiomed::Messaging messaging([](const fedbiomed::Json&, const std::string&) {},
                                   fedbiomed::ComponentType::researcher, "researcher_pkg", "127.0.0.1", 1883);
    std::cout << "default send topic: " << messaging.default_send_topic() << '\n';
    std::cout << "connected: " << (messaging.is_connected() ? "yes" : "no") << '\n';
    std::cout << "protocol version: " << fedbiomed::kProtocolVersion << '\n';
    std::cout << "library version: " << fedbiomed::library_version() << " (headers "
              << FEDBIOMED_MESSAGING_VERSION_STRING << ")\n";
    return 0;
}
