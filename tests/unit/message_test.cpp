// The message catalogue: types, get_dict() order, validation and its error texts, the four factories.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/json.hpp>
#include <fedbiomed/message.hpp>

namespace {

using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::Message;
using fedbiomed::MessageValidationError;
using fedbiomed::NodeMessages;
using fedbiomed::ResearcherMessages;
using Kind = MessageValidationError::Kind;

std::vector<std::string> keys_of(const Json& object) {
    std::vector<std::string> keys;
    for (auto it = object.begin(); it != object.end(); ++it) {
        keys.push_back(it.key());
    }
    return keys;
}

// A valid message of every class, members in declaration order, as the reference's get_dict() gives it.
struct Sample {
    const char* class_name;
    bool request;  // researcher -> node
    Json dict;
};

std::vector<Sample> samples() {
    const Json ta = Json::parse(R"({"epochs": 2, "test_metric": "ACCURACY"})");
    std::vector<Sample> all{
        {"PingRequest",
         true,
         {{"protocol_version", "1"}, {"researcher_id", "R"}, {"sequence", 7}, {"command", "ping"}}},
        {"SearchRequest",
         true,
         {{"protocol_version", "1"}, {"researcher_id", "R"}, {"tags", {"a", "b"}}, {"command", "search"}}},
        {"ListRequest", true, {{"protocol_version", "1"}, {"researcher_id", "R"}, {"command", "list"}}},
        {"TrainRequest",
         true,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"job_id", "J"},
          {"state_id", nullptr},
          {"params_url", "http://p"},
          {"training_args", ta},
          {"dataset_id", "D"},
          {"training", true},
          {"model_args", {{"n", 3}}},
          {"training_plan_url", "http://t"},
          {"training_plan_class", "TP"},
          {"command", "train"},
          {"secagg_servkey_id", "S"},
          {"secagg_biprime_id", nullptr},
          {"secagg_random", 0.25},
          {"secagg_clipping_range", 10},
          {"round", 3},
          {"aggregator_args", Json::object()},
          {"aux_var_urls", {"http://a"}}}},
        {"TrainingPlanStatusRequest",
         true,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"job_id", "J"},
          {"training_plan_url", "http://t"},
          {"command", "training-plan-status"}}},
        {"ApprovalRequest",
         true,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"description", "d"},
          {"sequence", 4},
          {"training_plan_url", "http://t"},
          {"command", "approval"}}},
        {"SecaggRequest",
         true,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"secagg_id", "S"},
          {"sequence", 5},
          {"element", 0},
          {"job_id", "J"},
          {"parties", {"R", "N1"}},
          {"command", "secagg"}}},
        {"SecaggDeleteRequest",
         true,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"secagg_id", "S"},
          {"sequence", 5},
          {"element", 1},
          {"job_id", nullptr},
          {"command", "secagg-delete"}}},
        {"PingReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"node_id", "N"},
          {"success", true},
          {"sequence", 7},
          {"command", "pong"}}},
        {"SearchReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"success", true},
          {"databases", Json::array({Json{{"name", "x"}}})},
          {"node_id", "N"},
          {"count", 1},
          {"command", "search"}}},
        {"ListReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"success", true},
          {"databases", Json::array()},
          {"node_id", "N"},
          {"count", 0},
          {"command", "list"}}},
        {"TrainReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"job_id", "J"},
          {"state_id", "st"},
          {"success", true},
          {"node_id", "N"},
          {"dataset_id", "D"},
          {"params_url", "http://p"},
          {"timing", {{"rtime_training", 1.5}}},
          {"sample_size", 100},
          {"msg", ""},
          {"command", "train"}}},
        {"TrainingPlanStatusReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"node_id", "N"},
          {"job_id", "J"},
          {"success", true},
          {"approval_obligation", false},
          {"status", "Approved"},
          {"msg", "ok"},
          {"training_plan_url", "http://t"},
          {"command", "training-plan-status"}}},
        {"ApprovalReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"node_id", "N"},
          {"sequence", 4},
          {"status", 200},
          {"command", "approval"},
          {"success", true}}},
        {"SecaggReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"secagg_id", "S"},
          {"sequence", 5},
          {"success", true},
          {"node_id", "N"},
          {"msg", "m"},
          {"command", "secagg"}}},
        {"SecaggDeleteReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"secagg_id", "S"},
          {"sequence", 5},
          {"success", false},
          {"node_id", "N"},
          {"msg", "m"},
          {"command", "secagg-delete"}}},
        {"AddScalarReply",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"node_id", "N"},
          {"job_id", "J"},
          {"train", true},
          {"test", false},
          {"test_on_local_updates", false},
          {"test_on_global_updates", false},
          {"metric", {{"Loss", 0.31}}},
          {"epoch", nullptr},
          {"total_samples", 1000},
          {"batch_samples", 32},
          {"num_batches", 31},
          {"num_samples_trained", 320},
          {"iteration", 10},
          {"command", "add_scalar"}}},
        {"LogMessage",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "<unknown>"},
          {"node_id", "N"},
          {"level", "INFO"},
          {"msg", "{}"},
          {"command", "log"}}},
        {"ErrorMessage",
         false,
         {{"protocol_version", "1"},
          {"researcher_id", "R"},
          {"node_id", "N"},
          {"errnum", ErrorNumbers::FB301},
          {"extra_msg", "bad"},
          {"command", "error"}}},
    };
    return all;
}

// Runs @p fn and returns the MessageValidationError it throws (fails the test when it does not).
template <class Fn>
MessageValidationError rejection(Fn fn) {
    try {
        fn();
    } catch (const MessageValidationError& error) {
        return error;
    }
    ADD_FAILURE() << "no MessageValidationError";
    return MessageValidationError(Kind::bad_type, "", "", "none");
}

Json ping() {
    return {{"protocol_version", "1"}, {"researcher_id", "R"}, {"sequence", 7}, {"command", "ping"}};
}

Json train_request() {
    for (const Sample& sample : samples()) {
        if (std::string(sample.class_name) == "TrainRequest") {
            return sample.dict;
        }
    }
    return {};
}

TEST(Message, EveryClassRoundTripsInDeclarationOrder) {
    const std::vector<Sample> all = samples();
    ASSERT_EQ(all.size(), 19u);
    for (const Sample& sample : all) {
        SCOPED_TRACE(sample.class_name);
        const Message msg = sample.request ? NodeMessages::format_incoming_message(sample.dict)
                                           : ResearcherMessages::format_incoming_message(sample.dict);
        EXPECT_EQ(fedbiomed::message_class(msg), sample.class_name);
        EXPECT_EQ(fedbiomed::message_command(msg), sample.dict.at("command").get<std::string>());
        const Json back = fedbiomed::to_json(msg);
        EXPECT_EQ(keys_of(back), keys_of(sample.dict));
        EXPECT_EQ(back, sample.dict);
        // The sending side gives the same message.
        const Message sent = sample.request ? ResearcherMessages::format_outgoing_message(sample.dict)
                                            : NodeMessages::format_outgoing_message(sample.dict);
        EXPECT_EQ(fedbiomed::to_json(sent), sample.dict);
        // And the struct converts back through from_json and the nlohmann hooks.
        std::visit(
            [&](const auto& typed) {
                using M = std::decay_t<decltype(typed)>;
                EXPECT_EQ(M::from_json(back).to_json(), sample.dict);
                const Json via_hook = typed;
                EXPECT_EQ(via_hook, sample.dict);
                EXPECT_EQ(via_hook.get<M>().to_json(), sample.dict);
                Json copy = back;
                EXPECT_EQ(M::from_json(std::move(copy)).to_json(), sample.dict);
            },
            msg);
    }
}

TEST(Message, StructsAreBuildersWithTheirCommandAndVersion) {
    fedbiomed::PingReply reply;
    reply.researcher_id = "RES_1";
    reply.node_id = "NODE_A";
    reply.success = true;
    reply.sequence = 7;
    const Json dict = reply.to_json();
    EXPECT_EQ(dict.dump(), R"({"protocol_version":"1","researcher_id":"RES_1","node_id":"NODE_A",)"
                           R"("success":true,"sequence":7,"command":"pong"})");
    EXPECT_EQ(fedbiomed::message_command(Message(reply)), "pong");
    EXPECT_EQ(fedbiomed::message_class(Message(reply)), "PingReply");

    fedbiomed::ErrorMessage error;
    error.node_id = "NODE_A";
    error.errnum = ErrorNumbers::FB313;
    const Json error_dict = std::move(error).to_json();
    EXPECT_EQ(error_dict.at("command"), "error");
    EXPECT_TRUE(fedbiomed::is_error_number(error_dict.at("errnum")));
    EXPECT_EQ(error_dict.at("errnum").get<ErrorNumbers>(), ErrorNumbers::FB313);
    // What a builder produces passes the factory of its direction.
    EXPECT_NO_THROW(NodeMessages::format_outgoing_message(error_dict));
    EXPECT_NO_THROW(ResearcherMessages::format_incoming_message(dict));
}

TEST(Message, ApprovalReplyPutsCommandBeforeSuccess) {
    const Json dict = fedbiomed::ApprovalReply{}.to_json();
    const std::vector<std::string> expected{"protocol_version", "researcher_id", "node_id", "sequence",
                                            "status",           "command",       "success"};
    EXPECT_EQ(keys_of(dict), expected);
}

TEST(Message, MemberOrderOfTheInputDoesNotMatter) {
    const Json shuffled = {
        {"command", "ping"}, {"sequence", 7}, {"researcher_id", "R"}, {"protocol_version", "1"}};
    const Json dict = fedbiomed::to_json(NodeMessages::format_incoming_message(shuffled));
    EXPECT_EQ(keys_of(dict), keys_of(ping()));
}

TEST(Message, WrongTypeNamesClassFieldExpectedAndFound) {
    Json msg = ping();
    msg["sequence"] = "1";
    const MessageValidationError error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.kind(), Kind::bad_type);
    EXPECT_EQ(error.code(), ErrorNumbers::FB601);
    EXPECT_EQ(error.message_class(), "PingRequest");
    EXPECT_EQ(error.field(), "sequence");
    EXPECT_STREQ(error.what(),
                 "FB601: message error: bad input value for message PingRequest: field 'sequence' "
                 "expects int, found string \"1\"");
    EXPECT_EQ(fedbiomed::kind_name(error.kind()), "bad_type");
}

TEST(Message, WrongTypeTextsForEachJsonType) {
    const std::vector<std::pair<Json, std::string>> cases{
        {1.0, "expects int, found float 1.0"},
        {nullptr, "expects int, found null"},
        {Json::array({1, 2, 3}), "expects int, found array of 3 elements"},
        {Json::object(), "expects int, found object of 0 members"},
    };
    for (const auto& [value, text] : cases) {
        Json msg = ping();
        msg["sequence"] = value;
        const MessageValidationError error = rejection([&] { NodeMessages::format_incoming_message(msg); });
        EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
    }
    Json msg = ping();
    msg["sequence"] = std::string(200, 'x');
    const std::string what = rejection([&] { NodeMessages::format_incoming_message(msg); }).what();
    EXPECT_NE(what.find("expects int, found string \"xxx"), std::string::npos) << what;
    EXPECT_NE(what.find("xxx\"..."), std::string::npos) << what;
    EXPECT_LT(what.size(), 200u) << "long values are shortened";
}

TEST(Message, MissingFieldsAreAllNamed) {
    Json msg = ping();
    msg.erase("sequence");
    MessageValidationError error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.kind(), Kind::bad_arguments);
    EXPECT_EQ(error.field(), "sequence");
    EXPECT_STREQ(error.what(),
                 "FB601: message error: bad number of parameters for PingRequest: missing field 'sequence'");

    msg.erase("researcher_id");
    msg.erase("protocol_version");
    error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.field(), "protocol_version");
    EXPECT_STREQ(error.what(),
                 "FB601: message error: bad number of parameters for PingRequest: missing fields "
                 "'protocol_version', 'researcher_id', 'sequence'");
}

TEST(Message, UnexpectedFieldIsReportedBeforeMissingOnes) {
    Json msg = ping();
    msg.erase("sequence");
    msg["x"] = 1;
    const MessageValidationError error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.kind(), Kind::bad_arguments);
    EXPECT_EQ(error.field(), "x");
    EXPECT_STREQ(error.what(),
                 "FB601: message error: bad number of parameters for PingRequest: unexpected field 'x'");
}

TEST(Message, NullableFields) {
    Json msg = train_request();
    const auto typed = std::get<fedbiomed::TrainRequest>(NodeMessages::format_incoming_message(msg));
    EXPECT_FALSE(typed.state_id.has_value());
    EXPECT_FALSE(typed.secagg_biprime_id.has_value());
    ASSERT_TRUE(typed.secagg_random.has_value());
    EXPECT_EQ(*typed.secagg_random, 0.25);
    ASSERT_TRUE(typed.aux_var_urls.has_value());
    EXPECT_EQ(*typed.aux_var_urls, Json::array({"http://a"}));
    EXPECT_TRUE(typed.to_json().at("state_id").is_null());

    msg["aux_var_urls"] = nullptr;
    msg["secagg_clipping_range"] = nullptr;
    const auto nulls = std::get<fedbiomed::TrainRequest>(NodeMessages::format_incoming_message(msg));
    EXPECT_FALSE(nulls.aux_var_urls.has_value());
    EXPECT_FALSE(nulls.secagg_clipping_range.has_value());

    // A nullable field still checks the type of a non-null value; a non-nullable one refuses null.
    msg["state_id"] = 3;
    MessageValidationError error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_NE(std::string(error.what()).find("field 'state_id' expects str or null, found integer 3"),
              std::string::npos)
        << error.what();
    msg["state_id"] = nullptr;
    msg["job_id"] = nullptr;
    error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_NE(std::string(error.what()).find("field 'job_id' expects str, found null"), std::string::npos);
}

TEST(Message, BooleanInIntFieldIsAcceptedAndKept) {
    Json msg = ping();
    msg["sequence"] = true;
    auto typed = std::get<fedbiomed::PingRequest>(NodeMessages::format_incoming_message(msg));
    EXPECT_EQ(typed.sequence, 1);
    EXPECT_EQ(typed.to_json().at("sequence"), Json(true));
    EXPECT_TRUE(typed.to_json().at("sequence").is_boolean());
    // Echoing it in a reply is the caller's choice; changing the value gives a plain integer.
    typed.sequence = 5;
    EXPECT_TRUE(typed.to_json().at("sequence").is_number_integer());

    msg["sequence"] = false;
    const Json back = fedbiomed::to_json(NodeMessages::format_incoming_message(msg));
    EXPECT_TRUE(back.at("sequence").is_boolean());
    EXPECT_EQ(back.at("sequence"), Json(false));
}

TEST(Message, BoolFieldRefusesIntegers) {
    Json reply = samples()[8].dict;  // PingReply
    reply["success"] = 1;
    const MessageValidationError error =
        rejection([&] { ResearcherMessages::format_incoming_message(reply); });
    EXPECT_EQ(error.field(), "success");
    EXPECT_NE(std::string(error.what()).find("expects bool, found integer 1"), std::string::npos);
}

TEST(Message, FloatFieldRefusesIntegersButTakesNonFinite) {
    Json msg = train_request();
    msg["secagg_random"] = 1;
    const MessageValidationError error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.field(), "secagg_random");
    EXPECT_NE(std::string(error.what()).find("expects float or null, found integer 1"), std::string::npos);

    msg["secagg_random"] = std::numeric_limits<double>::quiet_NaN();
    const auto typed = std::get<fedbiomed::TrainRequest>(NodeMessages::format_incoming_message(msg));
    EXPECT_TRUE(std::isnan(typed.secagg_random.value()));
    msg["secagg_random"] = -std::numeric_limits<double>::infinity();
    EXPECT_NO_THROW(NodeMessages::format_incoming_message(msg));
}

TEST(Message, IntegersAboveInt64AreAcceptedAndGivenBackExactly) {
    // deserialize_msg() gives every non-negative literal as number_unsigned, up to UINT64_MAX; the
    // reference (Python ints) accepts all of them in an int field.
    constexpr std::uint64_t kAbove = std::uint64_t{1} << 63;  // INT64_MAX + 1
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    for (const std::uint64_t value : {kAbove, kAbove + 12345, kMax}) {
        SCOPED_TRACE(value);
        const std::string payload = R"({"protocol_version": "1", "researcher_id": "R", "sequence": )" +
                                    std::to_string(value) + R"(, "command": "ping"})";
        const Json decoded = fedbiomed::deserialize_msg(payload);
        ASSERT_TRUE(decoded.at("sequence").is_number_unsigned());

        const auto typed = std::get<fedbiomed::PingRequest>(NodeMessages::format_incoming_message(decoded));
        EXPECT_LT(typed.sequence, 0) << "the int64 member holds the bit pattern";
        EXPECT_EQ(static_cast<std::uint64_t>(typed.sequence), value);
        const Json back = typed.to_json();
        ASSERT_TRUE(back.at("sequence").is_number_unsigned());
        EXPECT_EQ(back.at("sequence").get<std::uint64_t>(), value);
        EXPECT_EQ(fedbiomed::serialize_msg(back), payload);

        // The other factories and from_json() agree, and so do the moving overloads.
        EXPECT_EQ(fedbiomed::to_json(ResearcherMessages::format_outgoing_message(decoded)), decoded);
        EXPECT_EQ(fedbiomed::to_json(NodeMessages::format_incoming_message(Json(decoded))), decoded);
        EXPECT_EQ(fedbiomed::PingRequest::from_json(decoded).to_json(), decoded);
    }

    // Nullable int fields, and a reply on the researcher's side.
    Json scalar = samples()[16].dict;  // AddScalarReply
    ASSERT_EQ(scalar.at("command"), "add_scalar");
    scalar["epoch"] = kMax;
    scalar["iteration"] = kAbove;
    const auto reply =
        std::get<fedbiomed::AddScalarReply>(ResearcherMessages::format_incoming_message(scalar));
    EXPECT_EQ(static_cast<std::uint64_t>(reply.epoch.value()), kMax);
    EXPECT_EQ(reply.to_json(), scalar);
    Json train = train_request();
    train["secagg_clipping_range"] = kAbove;
    EXPECT_EQ(fedbiomed::to_json(NodeMessages::format_incoming_message(train)).at("secagg_clipping_range"),
              Json(kAbove));

    // INT64_MAX given unsigned is a plain value; INT64_MIN is accepted as ever.
    Json msg = ping();
    msg["sequence"] = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    auto typed = std::get<fedbiomed::PingRequest>(NodeMessages::format_incoming_message(msg));
    EXPECT_EQ(typed.sequence, std::numeric_limits<std::int64_t>::max());
    msg["sequence"] = std::numeric_limits<std::int64_t>::min();
    typed = std::get<fedbiomed::PingRequest>(NodeMessages::format_incoming_message(msg));
    EXPECT_EQ(typed.to_json().at("sequence"), Json(std::numeric_limits<std::int64_t>::min()));
    EXPECT_FALSE(typed.to_json().at("sequence").is_number_unsigned());

    // Assigning a non-negative value replaces the number; copying the member into another struct copies
    // the bit pattern only (documented: echo the JSON value to keep such a number).
    msg["sequence"] = kMax;
    typed = std::get<fedbiomed::PingRequest>(NodeMessages::format_incoming_message(msg));
    fedbiomed::PingReply pong;
    pong.sequence = typed.sequence;
    EXPECT_EQ(pong.to_json().at("sequence"), Json(-1));
    typed.sequence = 5;
    EXPECT_EQ(typed.to_json().at("sequence"), Json(5));
}

TEST(Message, ErrnumNeedsTheEnumMember) {
    Json msg = samples()[18].dict;  // ErrorMessage
    const auto typed = std::get<fedbiomed::ErrorMessage>(ResearcherMessages::format_incoming_message(msg));
    EXPECT_EQ(typed.errnum, ErrorNumbers::FB301);

    msg["errnum"] = "FB301: Protocol error";  // the text, as the reference: not a member
    MessageValidationError error = rejection([&] { ResearcherMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.field(), "errnum");
    EXPECT_NE(std::string(error.what()).find("expects ErrorNumbers, found string"), std::string::npos);

    // A member is accepted in no other field.
    msg = samples()[18].dict;
    msg["extra_msg"] = ErrorNumbers::FB301;
    error = rejection([&] { ResearcherMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.field(), "extra_msg");
    EXPECT_NE(std::string(error.what()).find("found ErrorNumbers member FB301"), std::string::npos)
        << error.what();
}

TEST(Message, OutgoingFactoriesSetProtocolVersion) {
    for (const Json& version : {Json("99"), Json(7), Json(nullptr), Json::array({"1"})}) {
        Json msg = ping();
        msg["protocol_version"] = version;
        const Json before = msg;
        const Json out = fedbiomed::to_json(ResearcherMessages::format_outgoing_message(msg));
        EXPECT_EQ(out.at("protocol_version"), "1");
        EXPECT_EQ(msg, before) << "the caller's message is not modified";
        // Incoming factories keep (and type-check) what was given.
        if (version.is_string()) {
            EXPECT_EQ(fedbiomed::to_json(NodeMessages::format_incoming_message(msg)).at("protocol_version"),
                      version);
        } else {
            EXPECT_EQ(rejection([&] { NodeMessages::format_incoming_message(msg); }).field(),
                      "protocol_version");
        }
    }
    Json absent = ping();
    absent.erase("protocol_version");
    const Json out = fedbiomed::to_json(ResearcherMessages::format_outgoing_message(std::move(absent)));
    EXPECT_EQ(keys_of(out), keys_of(ping()));
    EXPECT_EQ(out.at("protocol_version"), "1");
}

TEST(Message, CommandChecks) {
    Json msg = ping();
    msg.erase("command");
    MessageValidationError error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.kind(), Kind::missing_command);
    EXPECT_TRUE(error.message_class().empty());
    EXPECT_STREQ(error.what(), "FB601: message error: message type not specified");

    // ping is a request: the node sends no ping, the researcher receives none.
    const std::vector<Message (*)(const Json&)> factories{&NodeMessages::format_outgoing_message,
                                                          &ResearcherMessages::format_incoming_message};
    for (const auto factory : factories) {
        error = rejection([&] { factory(ping()); });
        EXPECT_EQ(error.kind(), Kind::unknown_command);
        EXPECT_STREQ(error.what(),
                     "FB601: message error: bad message type for format_incoming_message: ping");
    }

    msg["command"] = true;
    error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.kind(), Kind::unknown_command);
    EXPECT_EQ(error.field(), "command");
    EXPECT_STREQ(error.what(),
                 "FB601: message error: bad message type for format_incoming_message: True (the "
                 "command must be a string, found boolean)");
    msg["command"] = Json::array({"ping"});
    EXPECT_EQ(rejection([&] { NodeMessages::format_incoming_message(msg); }).kind(), Kind::unknown_command);
}

// what() is a C string: it ends at the first NUL. error_text(code()) + ": " + detail() is the whole text,
// as the reference prints it (docs/conformance.md).
TEST(Message, ExactTextIsErrorTextPlusDetailNotWhat) {
    Json msg = ping();
    msg["command"] = std::string("pong\0x", 6);
    const MessageValidationError error = rejection([&] { NodeMessages::format_incoming_message(msg); });
    EXPECT_EQ(error.kind(), Kind::unknown_command);
    const std::string expected("FB601: message error: bad message type for format_incoming_message: pong\0x",
                               74);
    EXPECT_EQ(std::string(fedbiomed::error_text(error.code())) + ": " + error.detail(), expected);
    EXPECT_EQ(std::string(error.what()),
              "FB601: message error: bad message type for format_incoming_message: pong");
}

TEST(Message, SameCommandSelectsTheClassOfTheDirection) {
    const Json search_request = samples()[1].dict;
    EXPECT_EQ(fedbiomed::message_class(NodeMessages::format_incoming_message(search_request)),
              "SearchRequest");
    const MessageValidationError error =
        rejection([&] { ResearcherMessages::format_incoming_message(search_request); });
    EXPECT_EQ(error.kind(), Kind::bad_arguments);
    EXPECT_EQ(error.message_class(), "SearchReply");
    EXPECT_EQ(error.field(), "tags");
}

// The reference's factories read msg['command'] in a try that answers any failure with its
// missing-command error, so whatever is not a dict gets that error, with its exact text.
TEST(Message, FactoriesAnswerANonObjectAsAMissingCommand) {
    using Factory = Message (*)(const Json&);
    using MovingFactory = Message (*)(Json &&);
    const std::vector<std::pair<Factory, MovingFactory>> factories{
        {&NodeMessages::format_incoming_message, &NodeMessages::format_incoming_message},
        {&NodeMessages::format_outgoing_message, &NodeMessages::format_outgoing_message},
        {&ResearcherMessages::format_incoming_message, &ResearcherMessages::format_incoming_message},
        {&ResearcherMessages::format_outgoing_message, &ResearcherMessages::format_outgoing_message}};
    Json error_member;
    error_member = ErrorNumbers::FB301;
    const std::vector<Json> inputs{Json::array(),
                                   Json::array({"command", "ping"}),
                                   Json::array({ping()}),
                                   Json("ping"),
                                   Json("command"),
                                   Json(""),
                                   Json(0),
                                   Json(std::numeric_limits<std::uint64_t>::max()),
                                   Json(-1),
                                   Json(1.5),
                                   Json(std::numeric_limits<double>::quiet_NaN()),
                                   Json(true),
                                   Json(nullptr),
                                   error_member,
                                   fedbiomed::deserialize_msg("[]"),
                                   fedbiomed::deserialize_msg(R"("ping")")};
    for (const Json& input : inputs) {
        SCOPED_TRACE(input.dump(-1, ' ', true, Json::error_handler_t::replace));
        for (const auto& [factory, moving] : factories) {
            for (const bool move : {false, true}) {
                const MessageValidationError error = rejection([&, f = factory, m = moving] {
                    if (move) {
                        m(Json(input));
                    } else {
                        f(input);
                    }
                });
                EXPECT_EQ(error.code(), ErrorNumbers::FB601);
                EXPECT_EQ(error.kind(), Kind::missing_command);
                EXPECT_EQ(fedbiomed::kind_name(error.kind()), "missing_command");
                EXPECT_TRUE(error.message_class().empty());
                EXPECT_EQ(error.field(), "command");
                EXPECT_EQ(error.detail(), "message type not specified");
                EXPECT_STREQ(error.what(), "FB601: message error: message type not specified");
            }
        }
        // A class built directly (the reference: `Class(**value)` raises TypeError) says what it got.
        const MessageValidationError direct = rejection([&] { fedbiomed::PingRequest::from_json(input); });
        EXPECT_EQ(direct.kind(), Kind::not_an_object);
        EXPECT_EQ(direct.code(), ErrorNumbers::FB601);
        EXPECT_EQ(direct.detail().rfind("a message must be a JSON object, found ", 0), 0u) << direct.detail();
    }
}

TEST(Message, FromJsonChecksLikeTheClassConstructor) {
    // The class constructor does not look at the command's value; only the factories map commands.
    Json msg = ping();
    msg["command"] = "whatever";
    EXPECT_EQ(fedbiomed::PingRequest::from_json(msg).command, "whatever");
    msg["sequence"] = 1.5;
    EXPECT_EQ(rejection([&] { fedbiomed::PingRequest::from_json(msg); }).field(), "sequence");
    EXPECT_THROW(Json(msg).get<fedbiomed::PingRequest>(), fedbiomed::MessageError);
}

TEST(Message, MovingOverloadsTakeThePayload) {
    Json msg = samples()[9].dict;  // SearchReply
    msg["databases"] = Json::array();
    for (int i = 0; i < 100; ++i) {
        msg["databases"].push_back(Json{{"name", "dataset " + std::to_string(i)}});
    }
    const Json copy = msg;
    Message moved = ResearcherMessages::format_incoming_message(std::move(msg));
    const auto& typed = std::get<fedbiomed::SearchReply>(moved);
    EXPECT_EQ(typed.databases.size(), 100u);
    EXPECT_EQ(fedbiomed::to_json(std::move(moved)), copy);
}

}  // namespace
