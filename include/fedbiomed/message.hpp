/// @file message.hpp
/// @brief The 19 Fed-BioMed message types (spec section 6) and the four factories that validate them.
///
/// ## The types
/// One struct per reference class, same name, same fields in the same declaration order, with these C++
/// types: `str` -> std::string, `int` -> std::int64_t, `bool` -> bool, `float` -> double, `dict` -> Json
/// (an object), `list` -> Json (an array), "or null" -> std::optional, `ErrorNumbers` -> ErrorNumbers.
/// Every struct starts with `protocol_version` (default kProtocolVersion) and has a `command` field
/// (default: the command that selects the class), so user code builds an outgoing message naturally:
/// @code
///   fedbiomed::PingReply reply;
///   reply.researcher_id = "RES_1";
///   reply.node_id = "NODE_A";
///   reply.success = true;
///   reply.sequence = 7;
///   fedbiomed::Json payload = reply.to_json();  // {"protocol_version": "1", "researcher_id": ...}
/// @endcode
/// to_json() is the reference's `get_dict()`: protocol_version first, then the fields in declaration order
/// (ApprovalReply has `command` before `success`, as the reference).
///
/// ## Validation (the reference's strictness, spec section 7)
/// Every field is required and no other key is allowed. Types follow Python's `isinstance` on the decoded
/// value:
/// - `int` accepts JSON integers and JSON true/false (Python's bool is an int) but not floats. A boolean
///   given for an int field is remembered and written back as a boolean by to_json() (as long as the value
///   is still 0 or 1), because the reference keeps the original value in its dict.
/// - `int` accepts every integer a Json can hold, INT64_MIN to UINT64_MAX, as Python's int accepts any
///   size; deserialize_msg() produces the whole range (non-negative literals come out as
///   number_unsigned). A value above INT64_MAX does not fit the std::int64_t member: the member holds its
///   two's complement bit pattern, a negative number (`static_cast<std::uint64_t>(msg.sequence)` gives
///   the value back), and the struct remembers it, so to_json() writes the original unsigned number while
///   the member still holds a negative value. Copying the member into another struct copies only the
///   bit pattern: to echo such a value exactly, copy the JSON value instead (integers beyond 64 bits never
///   reach a factory: deserialize_msg() refuses them, see docs/conformance.md).
/// - `float` accepts JSON floats only (a JSON integer is rejected, as in the reference); NaN and
///   infinities are floats and accepted.
/// - `str`, `bool`: strings, booleans only. `dict`, `list`: any object, any array (contents unchecked).
/// - "or null" also accepts null.
/// - `ErrorNumbers` accepts only an ErrorNumbers member stored with to_json(Json&, ErrorNumbers), which is
///   what deserialize_msg() produces; the plain text "FB301: Protocol error" is rejected, as in the
///   reference. A member is accepted in no other field.
///
/// All failures throw MessageValidationError (FB601), whose text names the class, the field, the expected
/// type and what was found; kind() tells which check failed.
///
/// ## Threads
/// Everything here is a pure function of its arguments: safe to call from any thread concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "fedbiomed/errors.hpp"
#include "fedbiomed/json.hpp"
#include "fedbiomed/version.hpp"

namespace fedbiomed {

/// @brief A validation failure of a message: the FB601 MessageError of the reference, plus what failed.
///
/// what() is "FB601: message error: <detail>" where detail begins as the reference's text:
/// - missing_command: "message type not specified";
/// - unknown_command: "bad message type for format_incoming_message: <command>" (same wording for the
///   outgoing factories, as the reference);
/// - bad_arguments: "bad number of parameters for <Class>: missing field 'x'" (all missing fields are
///   listed) or "... unexpected field 'x'";
/// - bad_type: "bad input value for message <Class>: field 'x' expects int, found string \"1\"";
/// - not_an_object (MessageBase::from_json() only): "a message must be a JSON object, found array". The
///   factories answer a non-object as the reference does: missing_command, "message type not specified".
///
/// For the exact text, read error_text(code()) and detail() (see FedbiomedError): what() is a C string
/// and ends at the first NUL, e.g. at the one inside an unknown command "pong\0".
class MessageValidationError : public MessageError {
public:
    /// @brief Which check failed. The names match the `error_kind` of the conformance vectors.
    enum class Kind {
        not_an_object,    ///< MessageBase::from_json() was given something other than a JSON object
        missing_command,  ///< no `command` key, or (factories) the input is not a JSON object at all
        unknown_command,  ///< `command` is not a string naming a class of this factory's direction
        bad_arguments,    ///< a field is missing or an unknown key is present
        bad_type,         ///< a field holds a value of the wrong type
    };

    /// @brief Builds the error; what() is "FB601: message error: " + @p detail.
    /// @param kind the check that failed
    /// @param message_class the class being built ("PingRequest"); empty when no class was selected
    /// @param field the offending key (the first one when several are missing); "command" for the
    ///        command errors; empty for not_an_object
    /// @param detail the text after "FB601: message error: "
    MessageValidationError(Kind kind, std::string message_class, std::string field,
                           const std::string& detail);

    /// @brief The check that failed. @throws nothing.
    Kind kind() const noexcept { return kind_; }

    /// @brief The class being built, or an empty string when the command selected none. @throws nothing.
    const std::string& message_class() const noexcept { return message_class_; }

    /// @brief The offending key (see the constructor). @throws nothing.
    const std::string& field() const noexcept { return field_; }

private:
    Kind kind_;
    std::string message_class_;
    std::string field_;
};

/// @brief The name of a kind as the conformance vectors spell it ("bad_type"). @throws nothing.
std::string_view kind_name(MessageValidationError::Kind kind) noexcept;

namespace detail {
struct MessageAccess;
}  // namespace detail

/// @brief Common part of the 19 message structs (CRTP): conversion to and from the reference's dict.
///
/// It holds no message field, so the derived structs stay aggregates whose members are exactly the
/// reference's fields. Its only state records which int fields were given as JSON booleans or as
/// integers above INT64_MAX, so that to_json() gives them back as they came (see the file comment).
template <class Derived>
class MessageBase {
public:
    /// @brief The reference's get_dict(): protocol_version first, then every field in declaration order;
    /// nullopt fields as null, an ErrorNumbers member as the tagged member (serialize_msg() writes its
    /// text). No validation is done: whatever the fields hold is written.
    /// @throws std::bad_alloc only.
    Json to_json() const&;

    /// @brief As to_json() const&, moving strings and JSON payloads out of this object.
    /// @throws std::bad_alloc only.
    Json to_json() &&;

    /// @brief Builds the struct from a dict as the reference's class constructor does: every field
    /// required, no other key, types checked. The value of `command` is not checked (only the factories
    /// map commands to classes) and protocol_version is kept as given.
    /// @throws MessageValidationError (FB601) of kind not_an_object, bad_arguments or bad_type.
    static Derived from_json(const Json& dict);

    /// @brief As from_json(const Json&), moving strings and JSON payloads out of @p dict (left valid
    /// but unspecified). @throws MessageValidationError (FB601), as above.
    static Derived from_json(Json&& dict);

private:
    friend struct detail::MessageAccess;
    // Bit i set: field i (declaration order, protocol_version is 0) is an int field that was given as
    // a JSON boolean.
    std::uint32_t bool_ints_ = 0;
    // Bit i set: field i is an int field that was given an integer above INT64_MAX (see the file comment).
    std::uint32_t unsigned_ints_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// Requests: researcher -> node (general/nodes or general/<node_id>)
// ---------------------------------------------------------------------------------------------------

/// @brief `ping`: asks every node to answer with a PingReply.
struct PingRequest : MessageBase<PingRequest> {
    static constexpr std::string_view kClassName = "PingRequest";  ///< reference class name
    static constexpr std::string_view kCommand = "ping";           ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                ///< protocol version of the sender
    std::string researcher_id;                                     ///< sender
    std::int64_t sequence = 0;                                     ///< the researcher's request counter
    std::string command{kCommand};                                 ///< "ping"
};

/// @brief `search`: asks nodes for datasets carrying all the given tags.
struct SearchRequest : MessageBase<SearchRequest> {
    static constexpr std::string_view kClassName = "SearchRequest";  ///< reference class name
    static constexpr std::string_view kCommand = "search";           ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                  ///< protocol version of the sender
    std::string researcher_id;                                       ///< sender
    Json tags = Json::array();                                       ///< list of tag strings
    std::string command{kCommand};                                   ///< "search"
};

/// @brief `list`: asks nodes for all their datasets.
struct ListRequest : MessageBase<ListRequest> {
    static constexpr std::string_view kClassName = "ListRequest";  ///< reference class name
    static constexpr std::string_view kCommand = "list";           ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                ///< protocol version of the sender
    std::string researcher_id;                                     ///< sender
    std::string command{kCommand};                                 ///< "list"
};

/// @brief `train`: one training round for one node.
struct TrainRequest : MessageBase<TrainRequest> {
    static constexpr std::string_view kClassName = "TrainRequest";  ///< reference class name
    static constexpr std::string_view kCommand = "train";           ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                 ///< protocol version of the sender
    std::string researcher_id;                                      ///< sender
    std::string job_id;                                             ///< job (experiment) id
    std::optional<std::string> state_id;                ///< node state to resume from (new in v4.5)
    std::string params_url;                             ///< URL of the aggregated parameters
    Json training_args = Json::object();                ///< training arguments (test_metric by name)
    std::string dataset_id;                             ///< dataset to train on
    bool training = false;                              ///< false: validation only
    Json model_args = Json::object();                   ///< arguments of the model
    std::string training_plan_url;                      ///< URL of the training plan source
    std::string training_plan_class;                    ///< class name of the training plan
    std::string command{kCommand};                      ///< "train"
    std::optional<std::string> secagg_servkey_id;       ///< secure aggregation server key context
    std::optional<std::string> secagg_biprime_id;       ///< secure aggregation biprime context
    std::optional<double> secagg_random;                ///< secure aggregation random value
    std::optional<std::int64_t> secagg_clipping_range;  ///< secure aggregation clipping range
    std::int64_t round = 0;                             ///< round number
    Json aggregator_args = Json::object();              ///< aggregator arguments
    std::optional<Json> aux_var_urls;                   ///< list of auxiliary variable URLs (new in v4.5)
};

/// @brief `training-plan-status`: asks one node whether a training plan is approved.
struct TrainingPlanStatusRequest : MessageBase<TrainingPlanStatusRequest> {
    static constexpr std::string_view kClassName = "TrainingPlanStatusRequest";  ///< reference class name
    static constexpr std::string_view kCommand = "training-plan-status";  ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                       ///< protocol version of the sender
    std::string researcher_id;                                            ///< sender
    std::string job_id;                                                   ///< job id
    std::string training_plan_url;                                        ///< URL of the training plan source
    std::string command{kCommand};                                        ///< "training-plan-status"
};

/// @brief `approval`: submits a training plan for approval.
struct ApprovalRequest : MessageBase<ApprovalRequest> {
    static constexpr std::string_view kClassName = "ApprovalRequest";  ///< reference class name
    static constexpr std::string_view kCommand = "approval";           ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                    ///< protocol version of the sender
    std::string researcher_id;                                         ///< sender
    std::string description;        ///< free text shown to the node's operator
    std::int64_t sequence = 0;      ///< the researcher's request counter
    std::string training_plan_url;  ///< URL of the training plan source
    std::string command{kCommand};  ///< "approval"
};

/// @brief `secagg`: asks a node to set up a secure aggregation context element.
struct SecaggRequest : MessageBase<SecaggRequest> {
    static constexpr std::string_view kClassName = "SecaggRequest";  ///< reference class name
    static constexpr std::string_view kCommand = "secagg";           ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                  ///< protocol version of the sender
    std::string researcher_id;                                       ///< sender
    std::string secagg_id;                                           ///< context id
    std::int64_t sequence = 0;                                       ///< the researcher's request counter
    std::int64_t element = 0;                                        ///< 0 = server key, 1 = biprime
    std::optional<std::string> job_id;                               ///< job id, if any
    Json parties = Json::array();                                    ///< list of party ids, researcher first
    std::string command{kCommand};                                   ///< "secagg"
};

/// @brief `secagg-delete`: asks a node to delete a secure aggregation context element.
struct SecaggDeleteRequest : MessageBase<SecaggDeleteRequest> {
    static constexpr std::string_view kClassName = "SecaggDeleteRequest";  ///< reference class name
    static constexpr std::string_view kCommand = "secagg-delete";          ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                        ///< protocol version of the sender
    std::string researcher_id;                                             ///< sender
    std::string secagg_id;                                                 ///< context id
    std::int64_t sequence = 0;          ///< the researcher's request counter
    std::int64_t element = 0;           ///< 0 = server key, 1 = biprime
    std::optional<std::string> job_id;  ///< job id, if any
    std::string command{kCommand};      ///< "secagg-delete"
};

// ---------------------------------------------------------------------------------------------------
// Replies and notifications: node -> researcher (general/researcher, monitoring, logger)
// ---------------------------------------------------------------------------------------------------

/// @brief `pong`: answer to a PingRequest.
struct PingReply : MessageBase<PingReply> {
    static constexpr std::string_view kClassName = "PingReply";  ///< reference class name
    static constexpr std::string_view kCommand = "pong";         ///< command selecting this class
    std::string protocol_version{kProtocolVersion};              ///< protocol version of the sender
    std::string researcher_id;                                   ///< researcher that pinged
    std::string node_id;                                         ///< sender
    bool success = false;                                        ///< always true in the reference
    std::int64_t sequence = 0;                                   ///< echoed from the request
    std::string command{kCommand};                               ///< "pong"
};

/// @brief `search`: datasets matching a SearchRequest (sent only when at least one matches).
struct SearchReply : MessageBase<SearchReply> {
    static constexpr std::string_view kClassName = "SearchReply";  ///< reference class name
    static constexpr std::string_view kCommand = "search";         ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                ///< protocol version of the sender
    std::string researcher_id;                                     ///< researcher that searched
    bool success = false;                                          ///< outcome
    Json databases = Json::array();                                ///< list of dataset metadata objects
    std::string node_id;                                           ///< sender
    std::int64_t count = 0;                                        ///< number of entries in databases
    std::string command{kCommand};                                 ///< "search"
};

/// @brief `list`: all datasets of a node.
struct ListReply : MessageBase<ListReply> {
    static constexpr std::string_view kClassName = "ListReply";  ///< reference class name
    static constexpr std::string_view kCommand = "list";         ///< command selecting this class
    std::string protocol_version{kProtocolVersion};              ///< protocol version of the sender
    std::string researcher_id;                                   ///< researcher that asked
    bool success = false;                                        ///< outcome
    Json databases = Json::array();                              ///< list of dataset metadata objects
    std::string node_id;                                         ///< sender
    std::int64_t count = 0;                                      ///< number of entries in databases
    std::string command{kCommand};                               ///< "list"
};

/// @brief `train`: outcome of one training round.
struct TrainReply : MessageBase<TrainReply> {
    static constexpr std::string_view kClassName = "TrainReply";  ///< reference class name
    static constexpr std::string_view kCommand = "train";         ///< command selecting this class
    std::string protocol_version{kProtocolVersion};               ///< protocol version of the sender
    std::string researcher_id;                                    ///< researcher of the job
    std::string job_id;                                           ///< job id
    std::optional<std::string> state_id;      ///< node state saved after the round (new in v4.5)
    bool success = false;                     ///< outcome
    std::string node_id;                      ///< sender
    std::string dataset_id;                   ///< dataset used; "" on failure
    std::string params_url;                   ///< URL of the trained parameters; "" if none
    Json timing = Json::object();             ///< {rtime_training, ptime_training} or {}
    std::optional<std::int64_t> sample_size;  ///< number of samples used
    std::string msg;                          ///< error text on failure
    std::string command{kCommand};            ///< "train"
};

/// @brief `training-plan-status`: approval status of a training plan on a node.
struct TrainingPlanStatusReply : MessageBase<TrainingPlanStatusReply> {
    static constexpr std::string_view kClassName = "TrainingPlanStatusReply";  ///< reference class name
    static constexpr std::string_view kCommand = "training-plan-status";  ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                       ///< protocol version of the sender
    std::string researcher_id;                                            ///< researcher that asked
    std::string node_id;                                                  ///< sender
    std::string job_id;                                                   ///< job id
    bool success = false;                                                 ///< outcome
    bool approval_obligation = false;  ///< whether the node requires approval
    std::string status;                ///< Approved / Rejected / Pending / Not Registered / Error
    std::string msg;                   ///< explanation
    std::string training_plan_url;     ///< URL of the training plan source
    std::string command{kCommand};     ///< "training-plan-status"
};

/// @brief `approval`: acknowledgement of an ApprovalRequest. Note `command` precedes `success`.
struct ApprovalReply : MessageBase<ApprovalReply> {
    static constexpr std::string_view kClassName = "ApprovalReply";  ///< reference class name
    static constexpr std::string_view kCommand = "approval";         ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                  ///< protocol version of the sender
    std::string researcher_id;                                       ///< researcher that asked
    std::string node_id;                                             ///< sender
    std::int64_t sequence = 0;                                       ///< echoed from the request
    std::int64_t status = 0;        ///< HTTP status of the download (0 if none)
    std::string command{kCommand};  ///< "approval"
    bool success = false;           ///< outcome
};

/// @brief `secagg`: outcome of a SecaggRequest.
struct SecaggReply : MessageBase<SecaggReply> {
    static constexpr std::string_view kClassName = "SecaggReply";  ///< reference class name
    static constexpr std::string_view kCommand = "secagg";         ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                ///< protocol version of the sender
    std::string researcher_id;                                     ///< researcher that asked
    std::string secagg_id;                                         ///< context id
    std::int64_t sequence = 0;                                     ///< echoed from the request
    bool success = false;                                          ///< outcome
    std::string node_id;                                           ///< sender
    std::string msg;                                               ///< explanation
    std::string command{kCommand};                                 ///< "secagg"
};

/// @brief `secagg-delete`: outcome of a SecaggDeleteRequest.
struct SecaggDeleteReply : MessageBase<SecaggDeleteReply> {
    static constexpr std::string_view kClassName = "SecaggDeleteReply";  ///< reference class name
    static constexpr std::string_view kCommand = "secagg-delete";        ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                      ///< protocol version of the sender
    std::string researcher_id;                                           ///< researcher that asked
    std::string secagg_id;                                               ///< context id
    std::int64_t sequence = 0;                                           ///< echoed from the request
    bool success = false;                                                ///< outcome
    std::string node_id;                                                 ///< sender
    std::string msg;                                                     ///< explanation
    std::string command{kCommand};                                       ///< "secagg-delete"
};

/// @brief `add_scalar`: a training metric, published on the monitoring topic.
struct AddScalarReply : MessageBase<AddScalarReply> {
    static constexpr std::string_view kClassName = "AddScalarReply";  ///< reference class name
    static constexpr std::string_view kCommand = "add_scalar";        ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                   ///< protocol version of the sender
    std::string researcher_id;                                        ///< researcher of the job
    std::string node_id;                                              ///< sender
    std::string job_id;                                               ///< job id
    bool train = false;                                               ///< metric of a training step
    bool test = false;                                                ///< metric of a validation step
    bool test_on_local_updates = false;                               ///< validation after local updates
    bool test_on_global_updates = false;                              ///< validation of the global model
    Json metric = Json::object();                                     ///< {name: number}, e.g. {"Loss": 0.31}
    std::optional<std::int64_t> epoch;                                ///< epoch, if known
    std::int64_t total_samples = 0;                                   ///< samples in the dataset
    std::int64_t batch_samples = 0;                                   ///< samples in the batch
    std::int64_t num_batches = 0;                                     ///< number of batches
    std::optional<std::int64_t> num_samples_trained;                  ///< samples trained so far, if known
    std::int64_t iteration = 0;                                       ///< iteration number
    std::string command{kCommand};                                    ///< "add_scalar"
};

/// @brief `log`: a log record forwarded on the logger topic.
struct LogMessage : MessageBase<LogMessage> {
    static constexpr std::string_view kClassName = "LogMessage";  ///< reference class name
    static constexpr std::string_view kCommand = "log";           ///< command selecting this class
    std::string protocol_version{kProtocolVersion};               ///< protocol version of the sender
    std::string researcher_id{"<unknown>"};                       ///< always "<unknown>" in the reference
    std::string node_id;                                          ///< sender
    std::string level;                                            ///< level name, e.g. "INFO"
    std::string msg;                                              ///< the record, itself JSON text
    std::string command{kCommand};                                ///< "log"
};

/// @brief `error`: an error reported by a node.
struct ErrorMessage : MessageBase<ErrorMessage> {
    static constexpr std::string_view kClassName = "ErrorMessage";  ///< reference class name
    static constexpr std::string_view kCommand = "error";           ///< command selecting this class
    std::string protocol_version{kProtocolVersion};                 ///< protocol version of the sender
    std::string researcher_id;                  ///< a researcher id, "<unknown>", "NOT_SET", ...
    std::string node_id;                        ///< sender
    ErrorNumbers errnum = ErrorNumbers::FB300;  ///< the error (travels as its text)
    std::string extra_msg;                      ///< details
    std::string command{kCommand};              ///< "error"
};

/// @brief Any of the 19 message types: what the factories return.
using Message = std::variant<PingRequest, SearchRequest, ListRequest, TrainRequest, TrainingPlanStatusRequest,
                             ApprovalRequest, SecaggRequest, SecaggDeleteRequest, PingReply, SearchReply,
                             ListReply, TrainReply, TrainingPlanStatusReply, ApprovalReply, SecaggReply,
                             SecaggDeleteReply, AddScalarReply, LogMessage, ErrorMessage>;

namespace detail {
template <class T, class Variant>
struct IsAlternative : std::false_type {};
template <class T, class... Types>
struct IsAlternative<T, std::variant<Types...>> : std::disjunction<std::is_same<T, Types>...> {};
}  // namespace detail

/// @brief True for the 19 message structs (the alternatives of Message), false for any other type.
template <class T>
inline constexpr bool kIsMessage = detail::IsAlternative<T, Message>::value;

/// @brief The reference class name of the message's type, e.g. "PingRequest". @throws nothing.
std::string_view message_class(const Message& msg) noexcept;

/// @brief The message's `command` field, e.g. "ping". @throws nothing.
const std::string& message_command(const Message& msg) noexcept;

/// @brief The message as the reference's get_dict() (see MessageBase::to_json()).
/// @throws std::bad_alloc only.
Json to_json(const Message& msg);

/// @brief As to_json(const Message&), moving payloads out of @p msg. @throws std::bad_alloc only.
Json to_json(Message&& msg);

/// @brief nlohmann hook: `Json j = ping_reply;`. @throws std::bad_alloc only.
template <class M, std::enable_if_t<kIsMessage<M>, int> = 0>
void to_json(Json& json, const M& msg) {
    json = msg.to_json();
}

/// @brief nlohmann hook: `json.get<PingReply>()`, validating as M::from_json().
/// @throws MessageValidationError (FB601).
template <class M, std::enable_if_t<kIsMessage<M>, int> = 0>
void from_json(const Json& json, M& msg) {
    msg = M::from_json(json);
}

/// @brief The node's factories (reference `NodeMessages`): incoming = requests from the researcher,
/// outgoing = replies, add_scalar, log and error.
///
/// Checks, in the reference's order: the input is an object with a `command` key (else missing_command,
/// "message type not specified", whatever the input's JSON type); the command is a string of this
/// direction's map; (outgoing only) protocol_version is set to "1", present or not,
/// whatever its value; no unknown key; no missing field; every field's type.
/// The input is never modified (the reference mutates the caller's dict on the outgoing path; we copy).
class NodeMessages {
public:
    NodeMessages() = delete;

    /// @brief Validates a message received by a node and returns it as its class.
    /// @throws MessageValidationError (FB601).
    static Message format_incoming_message(const Json& msg);

    /// @brief As above, moving payloads out of @p msg. @throws MessageValidationError (FB601).
    static Message format_incoming_message(Json&& msg);

    /// @brief Sets protocol_version to "1", validates a message a node sends, returns it as its class.
    /// @throws MessageValidationError (FB601).
    static Message format_outgoing_message(const Json& msg);

    /// @brief As above, moving payloads out of @p msg. @throws MessageValidationError (FB601).
    static Message format_outgoing_message(Json&& msg);
};

/// @brief The researcher's factories (reference `ResearcherMessages`): incoming = the node's outgoing
/// messages, outgoing = requests. Same checks as NodeMessages.
class ResearcherMessages {
public:
    ResearcherMessages() = delete;

    /// @brief Validates a message received by a researcher and returns it as its class.
    /// @throws MessageValidationError (FB601).
    static Message format_incoming_message(const Json& msg);

    /// @brief As above, moving payloads out of @p msg. @throws MessageValidationError (FB601).
    static Message format_incoming_message(Json&& msg);

    /// @brief Sets protocol_version to "1", validates a request the researcher sends, returns it.
    /// @throws MessageValidationError (FB601).
    static Message format_outgoing_message(const Json& msg);

    /// @brief As above, moving payloads out of @p msg. @throws MessageValidationError (FB601).
    static Message format_outgoing_message(Json&& msg);
};

}  // namespace fedbiomed
