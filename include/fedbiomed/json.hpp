/// @file json.hpp
/// @brief The wire codec: Fed-BioMed payload text <-> JSON objects, byte-compatible with the reference.
///
/// The reference encodes with Python's `json.dumps` (separators ", " and ": ", ASCII only, floats in
/// shortest round-trip form, non-finite floats as the bare tokens NaN / Infinity / -Infinity) and decodes
/// with `json.loads`; both rewrite two top-level keys: `errnum` (ErrorNumbers <-> its text) and
/// `training_args.test_metric` (MetricTypes <-> its name). This header reproduces all of it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fedbiomed/errors.hpp"

namespace fedbiomed {

/// @brief A decoded message. An ordered JSON object, so members keep their wire order as Python dicts do
/// (the reference's byte-exact encodings depend on it). A `nlohmann::json` converts to it implicitly.
using Json = nlohmann::ordered_json;

/// @brief The metrics a training request may name in `training_args.test_metric` (reference MetricTypes).
/// Each travels as its member name (metric_name()); the order is the reference's.
enum class MetricTypes {
    ACCURACY,             ///< "ACCURACY": classification accuracy
    F1_SCORE,             ///< "F1_SCORE": F1 score (classification)
    PRECISION,            ///< "PRECISION": precision (classification)
    RECALL,               ///< "RECALL": recall (classification)
    MEAN_SQUARE_ERROR,    ///< "MEAN_SQUARE_ERROR": mean squared error (regression)
    MEAN_ABSOLUTE_ERROR,  ///< "MEAN_ABSOLUTE_ERROR": mean absolute error (regression)
    EXPLAINED_VARIANCE,   ///< "EXPLAINED_VARIANCE": explained variance score (regression)
};

/// @brief The name of a metric as it travels on the wire ("ACCURACY").
/// @throws nothing.
std::string_view metric_name(MetricTypes metric) noexcept;

/// @brief Looks a metric up by its exact name; std::nullopt when unknown.
/// @throws nothing.
std::optional<MetricTypes> metric_from_name(std::string_view name) noexcept;

/// @brief Limits applied while decoding an untrusted payload.
struct DecodeLimits {
    /// Deepest nesting of arrays and objects accepted: the outermost container is level 1, so 0 admits no
    /// container at all (the reference, in CPython, fails near 1000). The decoder itself never recurses;
    /// the limit protects code that walks the result recursively (nlohmann's copy, comparison, dump()).
    std::size_t max_depth = 512;
    /// Largest payload accepted, in bytes; 0 means no limit.
    std::size_t max_bytes = 0;
};

/// @brief Encodes a message as the reference does (`serialize_msg` of fedbiomed.common.json).
///
/// Top-level `errnum` must hold an ErrorNumbers member (see to_json(Json&, ErrorNumbers)) and is written as
/// its text. If top-level `training_args` is present it must be an object; a `test_metric` inside it that is
/// a MetricTypes name is written as that name. Everything else is written byte-exact as Python would:
/// `", "` / `": "` separators, members in their order, ASCII only (`\uXXXX` lowercase, surrogate pairs
/// above U+FFFF), integers plain, floats as Python's repr() (`1.0`, `1e+16`, `1.5e-07`), non-finite floats
/// as NaN / Infinity / -Infinity. An ErrorNumbers member found below the top level is written as its text
/// too. Strings must be UTF-8; the 3-byte form of a surrogate (how deserialize_msg() keeps an unpaired
/// `\udXXX` escape) is accepted and written back as that escape. A value that is not an object is written
/// without any rewrite. @p msg is not modified (the reference rewrote the caller's dict in place).
/// @throws MessageError (FB601) when `errnum` is not an ErrorNumbers member, when `training_args` is not an
///         object, when a string is not valid UTF-8, or for a binary value that is not an ErrorNumbers
///         member.
std::string serialize_msg(const Json& msg);

/// @brief Decodes a payload as the reference does (`deserialize_msg` of fedbiomed.common.json).
///
/// Accepts the reference dialect (JSON plus NaN, Infinity, -Infinity). Integers stay integers, from
/// INT64_MIN to UINT64_MAX: non-negative ones are number_unsigned, negative ones number_integer (the
/// message factories accept the whole range in int fields, as Python's int does); a literal outside that
/// range is an error (see below). Floats stay floats (a literal beyond the double range becomes
/// +/-infinity or +/-0.0, as in Python). Duplicate keys keep the first position and the last value, like a
/// Python dict. Top-level `errnum`, when present, becomes an ErrorNumbers member: the member whose text
/// matches exactly, else FB999. A truthy top-level `training_args.test_metric` that is not a metric name
/// becomes null. The result may be any JSON value the reference would return (an array or a string too); the
/// transport layer is what requires an object. Like the reference, a top-level array holding the string
/// "errnum" or "training_args", or a top-level string containing either word, is an error.
///
/// The payload must be strict UTF-8 (no overlong forms, no encoded surrogates, nothing above U+10FFFF); a
/// UTF-8 BOM at the very start is skipped. An unpaired `\udXXX` escape, which Python keeps, is stored as
/// the surrogate's 3-byte generalized UTF-8 form (WTF-8) so that serialize_msg() writes the same escape.
/// Deliberate differences from `json.loads(bytes)` (docs/conformance.md has them all, with the reasons):
/// no UTF-16/UTF-32 detection and no `surrogatepass` for raw encoded surrogates (a Python peer never
/// sends either: its payloads are ASCII); no integers beyond 64 bits (nlohmann's JSON has no unbounded
/// number, and no message field could hold one); nesting limited to @p limits (CPython fails near 1000
/// levels). Linear time, no recursion: safe on hostile input.
/// @throws DecodeError (FB601) on invalid UTF-8, invalid JSON, nesting deeper than @p limits, a payload
///         larger than @p limits, a top-level number/boolean/null (the reference fails there too), or a
///         top-level `training_args` that is not an object. The message names what and where (byte offset).
Json deserialize_msg(std::string_view payload, const DecodeLimits& limits = {});

/// @brief Stores an ErrorNumbers member in a JSON value, as the reference keeps an enum member in its dict.
///
/// The member is a tagged value distinct from every string, so a plain string "FB301: Protocol error" is
/// not mistaken for the member (the reference rejects such a string). Read it back with
/// `value.get<ErrorNumbers>()`; serialize_msg() writes its text. Used by nlohmann's ADL:
/// `msg["errnum"] = ErrorNumbers::FB301;`. A @p code that is no member (a cast integer) is stored all the
/// same, but is_error_number() is false for it, so serialize_msg() and the message factories refuse it.
/// @throws std::bad_alloc only (the tagged value allocates).
void to_json(Json& value, ErrorNumbers code);

/// @brief Reads an ErrorNumbers member from a JSON value: the tagged member, or an exact error text.
/// @throws MessageError (FB601) for anything else.
void from_json(const Json& value, ErrorNumbers& code);

/// @brief True when @p value holds an ErrorNumbers member (see to_json(Json&, ErrorNumbers)).
/// @throws nothing.
bool is_error_number(const Json& value) noexcept;

}  // namespace fedbiomed
