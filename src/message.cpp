// The message catalogue: one field table per class drives validation, construction and get_dict().
//
// Validation is done on the input object in place (no copy, no re-serialisation): one pass over its
// members finds each field (or the first unknown key), then the types are checked through the recorded
// pointers, and only then is the struct filled, moving payloads out when the caller gave an rvalue.

#include "fedbiomed/message.hpp"

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>

#include "json_type.hpp"

namespace fedbiomed {

MessageValidationError::MessageValidationError(Kind kind, std::string message_class, std::string field,
                                               const std::string& detail)
    : MessageError(ErrorNumbers::FB601, detail),
      kind_(kind),
      message_class_(std::move(message_class)),
      field_(std::move(field)) {}

std::string_view kind_name(MessageValidationError::Kind kind) noexcept {
    using Kind = MessageValidationError::Kind;
    switch (kind) {
    case Kind::not_an_object: return "not_an_object";
    case Kind::missing_command: return "missing_command";
    case Kind::unknown_command: return "unknown_command";
    case Kind::bad_arguments: return "bad_arguments";
    case Kind::bad_type: return "bad_type";
    }
    return "unknown";
}

namespace detail {

// The one place that reaches the private bookkeeping of MessageBase.
struct MessageAccess {
    template <class M>
    static std::uint32_t& bool_ints(M& msg) noexcept {
        return static_cast<MessageBase<M>&>(msg).bool_ints_;
    }
    template <class M>
    static std::uint32_t bool_ints(const M& msg) noexcept {
        return static_cast<const MessageBase<M>&>(msg).bool_ints_;
    }
    template <class M>
    static std::uint32_t& unsigned_ints(M& msg) noexcept {
        return static_cast<MessageBase<M>&>(msg).unsigned_ints_;
    }
    template <class M>
    static std::uint32_t unsigned_ints(const M& msg) noexcept {
        return static_cast<const MessageBase<M>&>(msg).unsigned_ints_;
    }
};

}  // namespace detail

namespace {

using Kind = MessageValidationError::Kind;
using detail::MessageAccess;

// ------------------------------------------------------------------------------------------------
// Field tables
// ------------------------------------------------------------------------------------------------

enum class FieldType : std::uint8_t { str, integer, boolean, floating, dict, list, errnum };

// What validation needs to know about a field; independent of the C++ struct.
struct FieldSpec {
    std::string_view name;
    FieldType type;
    bool nullable;
};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <class T>
struct TypeOf;
template <>
struct TypeOf<std::string> : std::integral_constant<FieldType, FieldType::str> {};
template <>
struct TypeOf<std::int64_t> : std::integral_constant<FieldType, FieldType::integer> {};
template <>
struct TypeOf<bool> : std::integral_constant<FieldType, FieldType::boolean> {};
template <>
struct TypeOf<double> : std::integral_constant<FieldType, FieldType::floating> {};
template <>
struct TypeOf<ErrorNumbers> : std::integral_constant<FieldType, FieldType::errnum> {};
template <class T>
struct TypeOf<std::optional<T>> : TypeOf<T> {};

// A field of class M held in a member of C++ type T.
template <class M, class T>
struct Field {
    std::string_view name;
    FieldType type;
    bool nullable;
    T M::*member;
};

template <class M, class T>
constexpr Field<M, T> scalar_field(std::string_view name, T M::*member) {
    return {name, TypeOf<T>::value, IsOptional<T>::value, member};
}

// dict and list are both Json in C++, so their JSON type is given explicitly.
template <class M, class T>
constexpr Field<M, T> json_field(std::string_view name, FieldType type, T M::*member) {
    static_assert(std::is_same_v<T, Json> || std::is_same_v<T, std::optional<Json>>);
    return {name, type, IsOptional<T>::value, member};
}

// The macros only spare writing each field name twice (as text and as member).
#define FBM_FIELD(name) scalar_field(#name, &M::name)
#define FBM_DICT(name) json_field(#name, FieldType::dict, &M::name)
#define FBM_LIST(name) json_field(#name, FieldType::list, &M::name)

// Schema<M>::kFields: the fields of M in the reference's declaration order (spec section 6).
template <class M>
struct Schema;

template <>
struct Schema<PingRequest> {
    using M = PingRequest;
    static constexpr auto kFields = std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id),
                                                    FBM_FIELD(sequence), FBM_FIELD(command));
};

template <>
struct Schema<SearchRequest> {
    using M = SearchRequest;
    static constexpr auto kFields = std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id),
                                                    FBM_LIST(tags), FBM_FIELD(command));
};

template <>
struct Schema<ListRequest> {
    using M = ListRequest;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(command));
};

template <>
struct Schema<TrainRequest> {
    using M = TrainRequest;
    static constexpr auto kFields = std::make_tuple(
        FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(job_id), FBM_FIELD(state_id),
        FBM_FIELD(params_url), FBM_DICT(training_args), FBM_FIELD(dataset_id), FBM_FIELD(training),
        FBM_DICT(model_args), FBM_FIELD(training_plan_url), FBM_FIELD(training_plan_class),
        FBM_FIELD(command), FBM_FIELD(secagg_servkey_id), FBM_FIELD(secagg_biprime_id),
        FBM_FIELD(secagg_random), FBM_FIELD(secagg_clipping_range), FBM_FIELD(round),
        FBM_DICT(aggregator_args), FBM_LIST(aux_var_urls));
};

template <>
struct Schema<TrainingPlanStatusRequest> {
    using M = TrainingPlanStatusRequest;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(job_id),
                        FBM_FIELD(training_plan_url), FBM_FIELD(command));
};

template <>
struct Schema<ApprovalRequest> {
    using M = ApprovalRequest;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(description),
                        FBM_FIELD(sequence), FBM_FIELD(training_plan_url), FBM_FIELD(command));
};

template <>
struct Schema<SecaggRequest> {
    using M = SecaggRequest;
    static constexpr auto kFields = std::make_tuple(
        FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(secagg_id), FBM_FIELD(sequence),
        FBM_FIELD(element), FBM_FIELD(job_id), FBM_LIST(parties), FBM_FIELD(command));
};

template <>
struct Schema<SecaggDeleteRequest> {
    using M = SecaggDeleteRequest;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(secagg_id),
                        FBM_FIELD(sequence), FBM_FIELD(element), FBM_FIELD(job_id), FBM_FIELD(command));
};

template <>
struct Schema<PingReply> {
    using M = PingReply;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(node_id),
                        FBM_FIELD(success), FBM_FIELD(sequence), FBM_FIELD(command));
};

// SearchReply and ListReply have the same fields (as SecaggReply and SecaggDeleteReply below).
template <class M>
struct DatasetReplySchema {
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(success),
                        FBM_LIST(databases), FBM_FIELD(node_id), FBM_FIELD(count), FBM_FIELD(command));
};

template <>
struct Schema<SearchReply> : DatasetReplySchema<SearchReply> {};

template <>
struct Schema<ListReply> : DatasetReplySchema<ListReply> {};

template <>
struct Schema<TrainReply> {
    using M = TrainReply;
    static constexpr auto kFields = std::make_tuple(
        FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(job_id), FBM_FIELD(state_id),
        FBM_FIELD(success), FBM_FIELD(node_id), FBM_FIELD(dataset_id), FBM_FIELD(params_url),
        FBM_DICT(timing), FBM_FIELD(sample_size), FBM_FIELD(msg), FBM_FIELD(command));
};

template <>
struct Schema<TrainingPlanStatusReply> {
    using M = TrainingPlanStatusReply;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(node_id),
                        FBM_FIELD(job_id), FBM_FIELD(success), FBM_FIELD(approval_obligation),
                        FBM_FIELD(status), FBM_FIELD(msg), FBM_FIELD(training_plan_url), FBM_FIELD(command));
};

template <>
struct Schema<ApprovalReply> {
    using M = ApprovalReply;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(node_id),
                        FBM_FIELD(sequence), FBM_FIELD(status), FBM_FIELD(command), FBM_FIELD(success));
};

template <class M>
struct SecaggReplySchema {
    static constexpr auto kFields = std::make_tuple(
        FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(secagg_id), FBM_FIELD(sequence),
        FBM_FIELD(success), FBM_FIELD(node_id), FBM_FIELD(msg), FBM_FIELD(command));
};

template <>
struct Schema<SecaggReply> : SecaggReplySchema<SecaggReply> {};

template <>
struct Schema<SecaggDeleteReply> : SecaggReplySchema<SecaggDeleteReply> {};

template <>
struct Schema<AddScalarReply> {
    using M = AddScalarReply;
    static constexpr auto kFields = std::make_tuple(
        FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(node_id), FBM_FIELD(job_id),
        FBM_FIELD(train), FBM_FIELD(test), FBM_FIELD(test_on_local_updates),
        FBM_FIELD(test_on_global_updates), FBM_DICT(metric), FBM_FIELD(epoch), FBM_FIELD(total_samples),
        FBM_FIELD(batch_samples), FBM_FIELD(num_batches), FBM_FIELD(num_samples_trained),
        FBM_FIELD(iteration), FBM_FIELD(command));
};

template <>
struct Schema<LogMessage> {
    using M = LogMessage;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(node_id),
                        FBM_FIELD(level), FBM_FIELD(msg), FBM_FIELD(command));
};

template <>
struct Schema<ErrorMessage> {
    using M = ErrorMessage;
    static constexpr auto kFields =
        std::make_tuple(FBM_FIELD(protocol_version), FBM_FIELD(researcher_id), FBM_FIELD(node_id),
                        FBM_FIELD(errnum), FBM_FIELD(extra_msg), FBM_FIELD(command));
};

#undef FBM_FIELD
#undef FBM_DICT
#undef FBM_LIST

// Bit masks of seen fields and of int fields given as booleans are 32 bits wide.
constexpr std::size_t kMaxFields = 32;

template <class M>
constexpr std::size_t kFieldCount = std::tuple_size_v<std::decay_t<decltype(Schema<M>::kFields)>>;

template <class M>
using FieldIndices = std::make_index_sequence<kFieldCount<M>>;

template <class M, std::size_t... I>
constexpr std::array<FieldSpec, sizeof...(I)> make_specs(std::index_sequence<I...> /*unused*/) {
    return {{FieldSpec{std::get<I>(Schema<M>::kFields).name, std::get<I>(Schema<M>::kFields).type,
                       std::get<I>(Schema<M>::kFields).nullable}...}};
}

template <class M>
constexpr std::array<FieldSpec, kFieldCount<M>> kSpecs = make_specs<M>(FieldIndices<M>{});

// A class's table, without its C++ type, for the non-template validation code.
struct ClassInfo {
    std::string_view name;
    const FieldSpec* fields;
    std::size_t count;
};

// ------------------------------------------------------------------------------------------------
// The tables checked against the structs at compile time
// ------------------------------------------------------------------------------------------------
//
// A table entry names its member (FBM_FIELD stringises it), so a table cannot name a member that does
// not exist. What the compiler would not notice is a member added to a struct and not to its table:
// the field would silently never be sent or read. Each message struct is an aggregate whose first
// initializer is its MessageBase, so the number of initializers it accepts is one more than its number of
// members; counting them and comparing with the table closes that gap, and distinct names rule out one
// member listed twice in place of another.

// Converts to any member type; only used in unevaluated brace-initialisations.
struct AnyMember {
    template <class T>
    // NOLINTNEXTLINE(google-explicit-constructor): the conversion is the point. A body, although never
    // run: clang instantiates the member types' constexpr constructors that would call it.
    operator T() const {
        return T{};
    }
};

template <class M, class Seq, class = void>
struct BraceInitializableFrom : std::false_type {};
// GCC's -Wconversion notes that a member type's own converting constructor (Json's, std::optional's) is
// preferred over AnyMember's operator; either way the expression is well-formed, which is all that counts.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#endif
template <class M, std::size_t... I>
struct BraceInitializableFrom<M, std::index_sequence<I...>,
                              std::void_t<decltype(M{(void(I), AnyMember{})...})>> : std::true_type {};
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// How many initializers `M{...}` accepts: its base, then each member.
template <class M, std::size_t N = 0>
constexpr std::size_t initializer_count() {
    if constexpr (BraceInitializableFrom<M, std::make_index_sequence<N + 1>>::value) {
        return initializer_count<M, N + 1>();
    } else {
        return N;
    }
}

template <class M>
constexpr bool field_names_distinct() {
    for (std::size_t i = 0; i < kSpecs<M>.size(); ++i) {
        for (std::size_t j = i + 1; j < kSpecs<M>.size(); ++j) {
            if (kSpecs<M>[i].name == kSpecs<M>[j].name) {
                return false;
            }
        }
    }
    return true;
}

template <class M>
constexpr ClassInfo class_info() {
    static_assert(std::is_aggregate_v<M>, "message structs stay aggregates: the member count relies on it");
    static_assert(initializer_count<M>() == kFieldCount<M> + 1,
                  "a member of this message struct is missing from its Schema<> table");
    static_assert(field_names_distinct<M>(), "a Schema<> table lists one member twice");
    static_assert(kFieldCount<M> <= kMaxFields);
    static_assert(std::get<0>(Schema<M>::kFields).name == "protocol_version");
    return {M::kClassName, kSpecs<M>.data(), kSpecs<M>.size()};
}

// ------------------------------------------------------------------------------------------------
// Error texts
// ------------------------------------------------------------------------------------------------

constexpr std::size_t kMaxShownBytes = 80;

[[noreturn]] void fail(Kind kind, std::string_view cls, std::string_view field, const std::string& detail) {
    throw MessageValidationError(kind, std::string(cls), std::string(field), detail);
}

// (The start of) @p text as the content of a JSON string literal, ASCII only, for error texts; "..."
// follows the closing quote when the text was cut.
struct Shown {
    std::string body;
    const char* tail;
};

Shown shown(std::string_view text) {
    const bool cut = text.size() > kMaxShownBytes;
    const Json value = std::string(cut ? text.substr(0, kMaxShownBytes) : text);
    std::string literal = value.dump(-1, ' ', true, Json::error_handler_t::replace);
    return {literal.substr(1, literal.size() - 2), cut ? "..." : ""};
}

std::string quoted_text(std::string_view text) {
    const Shown part = shown(text);
    return "\"" + part.body + "\"" + part.tail;
}

// A key as the reference's repr shows it: 'x'.
std::string key_text(std::string_view key) {
    const Shown part = shown(key);
    return "'" + part.body + "'" + part.tail;
}

std::string float_text(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    if (std::isinf(value)) {
        return value > 0 ? "Infinity" : "-Infinity";
    }
    return Json(value).dump();
}

// The type as the reference's texts name it; an ErrorNumbers member is a tagged JSON value of its own.
std::string found_type_name(const Json& value) {
    return is_error_number(value) ? "ErrorNumbers member" : detail::json_type_name(value);
}

std::string counted(std::size_t count, const char* noun) {
    return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// What was found, e.g. `string "1"`, `float 1.0`, `array of 3 elements`. Containers are not dumped: an
// error about a large payload stays short and cheap.
std::string found_text(const Json& value) {
    std::string text = found_type_name(value);
    if (is_error_number(value)) {
        return text + " " + std::string(error_code(value.get<ErrorNumbers>()));
    }
    switch (value.type()) {
    case Json::value_t::boolean: return text + (value.get<bool>() ? " true" : " false");
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return text + " " + value.dump();
    case Json::value_t::number_float: return text + " " + float_text(value.get<double>());
    case Json::value_t::string: return text + " " + quoted_text(value.get_ref<const std::string&>());
    case Json::value_t::array: return text + " of " + counted(value.size(), "element");
    case Json::value_t::object: return text + " of " + counted(value.size(), "member");
    default: return text;
    }
}

std::string expected_text(const FieldSpec& spec) {
    std::string text;
    switch (spec.type) {
    case FieldType::str: text = "str"; break;
    case FieldType::integer: text = "int"; break;
    case FieldType::boolean: text = "bool"; break;
    case FieldType::floating: text = "float"; break;
    case FieldType::dict: text = "dict"; break;
    case FieldType::list: text = "list"; break;
    case FieldType::errnum: text = "ErrorNumbers"; break;
    }
    return spec.nullable ? text + " or null" : text;
}

// A command that is not a string, shown as Python's str() shows it (as the reference's text does).
std::string python_text(const Json& value) {
    if (value.is_null()) {
        return "None";
    }
    if (value.is_boolean()) {
        return value.get<bool>() ? "True" : "False";
    }
    if (value.is_number_float()) {
        const double number = value.get<double>();
        return std::isnan(number)   ? "nan"
               : std::isinf(number) ? (number > 0 ? "inf" : "-inf")
                                    : float_text(number);
    }
    if (is_error_number(value)) {
        return std::string(error_text(value.get<ErrorNumbers>()));
    }
    const std::string text = value.dump(-1, ' ', true, Json::error_handler_t::replace);
    return text.size() > kMaxShownBytes ? text.substr(0, kMaxShownBytes) + "..." : text;
}

// A class constructor given something other than a dict (the reference: a TypeError from `**`).
[[noreturn]] void fail_not_object(const Json& value) {
    fail(Kind::not_an_object, {}, {}, "a message must be a JSON object, found " + found_type_name(value));
}

// The reference's missing-command error. Its factories read `msg['command']` inside a try that turns any
// exception into this one, so an array, a string, a number or null given to a factory gets it too.
[[noreturn]] void fail_missing_command() {
    fail(Kind::missing_command, {}, "command", "message type not specified");
}

// ------------------------------------------------------------------------------------------------
// Validation
// ------------------------------------------------------------------------------------------------

// The value of each field in the input object, which int fields hold a boolean and which hold an
// integer above INT64_MAX. A null value is the protocol_version that the outgoing factories set (see
// locate()).
struct Located {
    std::array<const Json*, kMaxFields> values{};
    std::uint32_t bool_ints = 0;
    std::uint32_t unsigned_ints = 0;
};

// How an accepted int field holds its value, when not as a plain int64.
enum class IntForm : std::uint8_t { plain, boolean, above_int64 };

// Does @p value fit a field of type @p spec? Sets *form for an int field holding a boolean or an integer
// above INT64_MAX (accepted: Python's int has no upper bound, and deserialize_msg() gives integers up to
// UINT64_MAX).
bool accepts(const FieldSpec& spec, const Json& value, IntForm* form) {
    if (is_error_number(value)) {
        return spec.type == FieldType::errnum;  // an enum member is not a str, dict, ... in Python either
    }
    if (value.is_null()) {
        return spec.nullable;
    }
    switch (spec.type) {
    case FieldType::str: return value.is_string();
    case FieldType::integer:
        if (value.is_boolean()) {
            *form = IntForm::boolean;
            return true;
        }
        if (value.is_number_unsigned() &&
            value.get<std::uint64_t>() >
                static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            *form = IntForm::above_int64;
        }
        return value.is_number_integer();  // true for number_unsigned too
    case FieldType::boolean: return value.is_boolean();
    case FieldType::floating: return value.is_number_float();
    case FieldType::dict: return value.is_object();
    case FieldType::list: return value.is_array();
    case FieldType::errnum: return false;
    }
    return false;
}

std::size_t field_index(const ClassInfo& info, std::string_view key) noexcept {
    for (std::size_t i = 0; i < info.count; ++i) {
        if (info.fields[i].name == key) {
            return i;
        }
    }
    return info.count;
}

// The checks of the reference's class constructor, in its order: unknown keys (the first one, in input
// order), missing fields (all of them), then types (the first bad field in declaration order).
// @p set_version: the outgoing factories' protocol_version "1", which replaces whatever was given.
Located locate(const Json& dict, const ClassInfo& info, bool set_version) {
    if (!dict.is_object()) {
        fail_not_object(dict);
    }
    Located located;
    std::uint32_t seen = 0;
    for (const auto& member : dict.get_ref<const Json::object_t&>()) {
        const std::size_t index = field_index(info, member.first);
        if (index == info.count) {
            fail(Kind::bad_arguments, info.name, member.first,
                 "bad number of parameters for " + std::string(info.name) + ": unexpected field " +
                     key_text(member.first));
        }
        seen |= 1U << index;
        located.values[index] = &member.second;
    }
    if (set_version) {
        seen |= 1U;  // protocol_version is always field 0 (checked by class_info())
        located.values[0] = nullptr;
    }
    const std::uint32_t all = info.count == 32 ? ~0U : (1U << info.count) - 1U;
    if (seen != all) {
        std::string names;
        std::string first;
        std::size_t missing = 0;
        for (std::size_t i = 0; i < info.count; ++i) {
            if ((seen & (1U << i)) == 0) {
                names += (missing++ == 0 ? "'" : ", '") + std::string(info.fields[i].name) + "'";
                if (first.empty()) {
                    first = info.fields[i].name;
                }
            }
        }
        fail(Kind::bad_arguments, info.name, first,
             "bad number of parameters for " + std::string(info.name) + ": missing field" +
                 (missing > 1 ? "s " : " ") + names);
    }
    for (std::size_t i = set_version ? 1 : 0; i < info.count; ++i) {
        IntForm form = IntForm::plain;
        if (!accepts(info.fields[i], *located.values[i], &form)) {
            fail(Kind::bad_type, info.name, info.fields[i].name,
                 "bad input value for message " + std::string(info.name) + ": field '" +
                     std::string(info.fields[i].name) + "' expects " + expected_text(info.fields[i]) +
                     ", found " + found_text(*located.values[i]));
        }
        if (form == IntForm::boolean) {
            located.bool_ints |= 1U << i;
        } else if (form == IntForm::above_int64) {
            located.unsigned_ints |= 1U << i;
        }
    }
    return located;
}

// ------------------------------------------------------------------------------------------------
// Building the struct, and get_dict()
// ------------------------------------------------------------------------------------------------

// @p movable: the value belongs to a Json the caller gave as an rvalue, so it may be moved from (the
// const_cast undoes the constness added by locate(), the object itself is not const).
Json& movable_ref(const Json& value) {
    return const_cast<Json&>(value);
}

void assign(std::string& out, const Json& value, bool movable) {
    if (movable) {
        out = std::move(movable_ref(value).get_ref<std::string&>());
    } else {
        out = value.get_ref<const std::string&>();
    }
}

void assign(std::int64_t& out, const Json& value, bool /*movable*/) {
    if (value.is_boolean()) {
        out = value.get<bool>() ? 1 : 0;
    } else if (value.is_number_unsigned()) {
        // Above INT64_MAX this keeps the two's complement bit pattern (modulo 2^64, as GCC and Clang
        // define the conversion); the unsigned_ints_ bit makes get_dict() write the number back unsigned.
        out = static_cast<std::int64_t>(value.get<std::uint64_t>());
    } else {
        out = value.get<std::int64_t>();
    }
}

void assign(bool& out, const Json& value, bool /*movable*/) {
    out = value.get<bool>();
}

void assign(double& out, const Json& value, bool /*movable*/) {
    out = value.get<double>();
}

void assign(ErrorNumbers& out, const Json& value, bool /*movable*/) {
    out = value.get<ErrorNumbers>();
}

void assign(Json& out, const Json& value, bool movable) {
    if (movable) {
        out = std::move(movable_ref(value));
    } else {
        out = value;
    }
}

template <class T>
void assign(std::optional<T>& out, const Json& value, bool movable) {
    if (value.is_null()) {
        out.reset();
    } else {
        assign(out.emplace(), value, movable);
    }
}

template <class M, std::size_t I>
void fill_field(M& out, const Located& located, bool movable) {
    const Json* value = located.values[I];
    if constexpr (I == 0) {
        if (value == nullptr) {
            out.protocol_version = kProtocolVersion;
            return;
        }
    }
    assign(out.*(std::get<I>(Schema<M>::kFields).member), *value, movable);
}

template <class M, std::size_t... I>
void fill_fields(M& out, const Located& located, bool movable, std::index_sequence<I...> /*unused*/) {
    (fill_field<M, I>(out, located, movable), ...);
    MessageAccess::bool_ints(out) = located.bool_ints;
    MessageAccess::unsigned_ints(out) = located.unsigned_ints;
}

template <class M>
void fill(M& out, const Json& dict, bool movable, bool set_version) {
    constexpr ClassInfo kInfo = class_info<M>();
    fill_fields(out, locate(dict, kInfo, set_version), movable, FieldIndices<M>{});
}

// One field's value in get_dict(); @p value is moved from when it is an rvalue. @p as_bool / @p as_unsigned:
// the int field was given as a JSON boolean / as an integer above INT64_MAX.
template <class T>
Json field_value(T&& value, bool as_bool, bool as_unsigned) {
    using V = std::decay_t<T>;
    if constexpr (IsOptional<V>::value) {
        if (!value.has_value()) {
            return Json(nullptr);
        }
        return field_value(*std::forward<T>(value), as_bool, as_unsigned);
    } else if constexpr (std::is_same_v<V, std::int64_t>) {
        // An int given as a JSON boolean is written back as one while it still reads as that boolean.
        if (as_bool && (value == 0 || value == 1)) {
            return Json(value == 1);
        }
        // An int given above INT64_MAX is written back unsigned while it still reads as such a number
        // (a negative bit pattern).
        if (as_unsigned && value < 0) {
            return Json(static_cast<std::uint64_t>(value));
        }
        return Json(value);
    } else {
        return Json(std::forward<T>(value));
    }
}

template <class M, class Self, std::size_t... I>
Json make_dict(Self&& msg, std::index_sequence<I...> /*unused*/) {
    Json dict = Json::object();
    auto& members = dict.get_ref<Json::object_t&>();
    members.reserve(sizeof...(I));  // ordered_map is a vector: one allocation instead of several
    const std::uint32_t bool_ints = MessageAccess::bool_ints(static_cast<const M&>(msg));
    const std::uint32_t unsigned_ints = MessageAccess::unsigned_ints(static_cast<const M&>(msg));
    (members.emplace(std::string(std::get<I>(Schema<M>::kFields).name),
                     field_value(std::forward<Self>(msg).*(std::get<I>(Schema<M>::kFields).member),
                                 ((bool_ints >> I) & 1U) != 0, ((unsigned_ints >> I) & 1U) != 0)),
     ...);
    return dict;
}

// ------------------------------------------------------------------------------------------------
// Factories
// ------------------------------------------------------------------------------------------------

using Builder = Message (*)(const Json& dict, bool movable, bool set_version);

template <class M>
Message build_message(const Json& dict, bool movable, bool set_version) {
    Message msg(std::in_place_type<M>);
    fill(std::get<M>(msg), dict, movable, set_version);
    return msg;
}

struct Route {
    std::string_view command;
    Builder build;
};

template <class M>
constexpr Route route() {
    return {M::kCommand, &build_message<M>};
}

// Researcher -> node: NodeMessages incoming, ResearcherMessages outgoing.
constexpr std::array<Route, 8> kRequests{{route<PingRequest>(), route<SearchRequest>(), route<ListRequest>(),
                                          route<TrainRequest>(), route<TrainingPlanStatusRequest>(),
                                          route<ApprovalRequest>(), route<SecaggRequest>(),
                                          route<SecaggDeleteRequest>()}};

// Node -> researcher: NodeMessages outgoing, ResearcherMessages incoming.
constexpr std::array<Route, 11> kReplies{
    {route<PingReply>(), route<SearchReply>(), route<ListReply>(), route<TrainReply>(),
     route<TrainingPlanStatusReply>(), route<ApprovalReply>(), route<SecaggReply>(),
     route<SecaggDeleteReply>(), route<AddScalarReply>(), route<LogMessage>(), route<ErrorMessage>()}};

template <std::size_t N>
Message format(const Json& msg, bool movable, const std::array<Route, N>& routes, bool outgoing) {
    if (!msg.is_object()) {
        fail_missing_command();
    }
    const auto command = msg.find("command");
    if (command == msg.end()) {
        fail_missing_command();
    }
    // The reference's wording, "format_incoming_message", whatever the direction.
    const std::string prefix = "bad message type for format_incoming_message: ";
    if (!command->is_string()) {
        fail(Kind::unknown_command, {}, "command",
             prefix + python_text(*command) + " (the command must be a string, found " +
                 found_type_name(*command) + ")");
    }
    const std::string& name = command->get_ref<const std::string&>();
    for (const Route& candidate : routes) {
        if (candidate.command == name) {
            return candidate.build(msg, movable, outgoing);
        }
    }
    fail(Kind::unknown_command, {}, "command",
         prefix + (name.size() > 4 * kMaxShownBytes ? name.substr(0, 4 * kMaxShownBytes) + "..." : name));
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Public functions
// ------------------------------------------------------------------------------------------------

template <class Derived>
Json MessageBase<Derived>::to_json() const& {
    return make_dict<Derived>(static_cast<const Derived&>(*this), FieldIndices<Derived>{});
}

template <class Derived>
Json MessageBase<Derived>::to_json() && {
    return make_dict<Derived>(static_cast<Derived&&>(*this), FieldIndices<Derived>{});
}

template <class Derived>
Derived MessageBase<Derived>::from_json(const Json& dict) {
    Derived msg;
    fill(msg, dict, false, false);
    return msg;
}

template <class Derived>
Derived MessageBase<Derived>::from_json(Json&& dict) {
    Derived msg;
    fill(msg, dict, true, false);
    return msg;
}

template class MessageBase<PingRequest>;
template class MessageBase<SearchRequest>;
template class MessageBase<ListRequest>;
template class MessageBase<TrainRequest>;
template class MessageBase<TrainingPlanStatusRequest>;
template class MessageBase<ApprovalRequest>;
template class MessageBase<SecaggRequest>;
template class MessageBase<SecaggDeleteRequest>;
template class MessageBase<PingReply>;
template class MessageBase<SearchReply>;
template class MessageBase<ListReply>;
template class MessageBase<TrainReply>;
template class MessageBase<TrainingPlanStatusReply>;
template class MessageBase<ApprovalReply>;
template class MessageBase<SecaggReply>;
template class MessageBase<SecaggDeleteReply>;
template class MessageBase<AddScalarReply>;
template class MessageBase<LogMessage>;
template class MessageBase<ErrorMessage>;

std::string_view message_class(const Message& msg) noexcept {
    if (msg.valueless_by_exception()) {
        return {};
    }
    return std::visit([](const auto& alternative) { return std::decay_t<decltype(alternative)>::kClassName; },
                      msg);
}

const std::string& message_command(const Message& msg) noexcept {
    static const std::string none;
    if (msg.valueless_by_exception()) {
        return none;
    }
    return std::visit([](const auto& alternative) -> const std::string& { return alternative.command; }, msg);
}

Json to_json(const Message& msg) {
    return std::visit([](const auto& alternative) { return alternative.to_json(); }, msg);
}

Json to_json(Message&& msg) {
    return std::visit(
        [](auto&& alternative) { return std::forward<decltype(alternative)>(alternative).to_json(); },
        std::move(msg));
}

Message NodeMessages::format_incoming_message(const Json& msg) {
    return format(msg, false, kRequests, false);
}

Message NodeMessages::format_incoming_message(Json&& msg) {
    return format(msg, true, kRequests, false);
}

Message NodeMessages::format_outgoing_message(const Json& msg) {
    return format(msg, false, kReplies, true);
}

Message NodeMessages::format_outgoing_message(Json&& msg) {
    return format(msg, true, kReplies, true);
}

Message ResearcherMessages::format_incoming_message(const Json& msg) {
    return format(msg, false, kReplies, false);
}

Message ResearcherMessages::format_incoming_message(Json&& msg) {
    return format(msg, true, kReplies, false);
}

Message ResearcherMessages::format_outgoing_message(const Json& msg) {
    return format(msg, false, kRequests, true);
}

Message ResearcherMessages::format_outgoing_message(Json&& msg) {
    return format(msg, true, kRequests, true);
}

}  // namespace fedbiomed
