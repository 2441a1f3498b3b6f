/// @file errors.hpp
/// @brief Fed-BioMed error numbers (v4.5.0, exact texts) and the exceptions that carry them.
///
/// Every error this library raises derives from FedbiomedError and carries one ErrorNumbers value; its
/// what() begins with that value's text ("FB101: cannot connect to the messaging server: ...") so logs
/// read like the reference implementation's.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fedbiomed {

/// @brief Every error number of Fed-BioMed v4.5.0, in declaration order.
///
/// The underlying value is the numeric part of the code (FB101 == 101). On the wire an error number
/// travels as its full text (see error_text()).
enum class ErrorNumbers : std::uint16_t {
    FB100 = 100,
    FB101 = 101,
    FB102 = 102,
    FB103 = 103,
    FB104 = 104,
    FB200 = 200,
    FB201 = 201,
    FB202 = 202,
    FB203 = 203,
    FB300 = 300,
    FB301 = 301,
    FB302 = 302,
    FB303 = 303,
    FB304 = 304,
    FB305 = 305,
    FB306 = 306,
    FB307 = 307,
    FB308 = 308,
    FB309 = 309,
    FB310 = 310,
    FB311 = 311,
    FB312 = 312,
    FB313 = 313,
    FB314 = 314,
    FB315 = 315,
    FB316 = 316,
    FB317 = 317,
    FB318 = 318,
    FB319 = 319,
    FB320 = 320,
    FB321 = 321,
    FB322 = 322,
    FB323 = 323,
    FB400 = 400,
    FB401 = 401,
    FB402 = 402,
    FB403 = 403,
    FB404 = 404,
    FB405 = 405,
    FB406 = 406,
    FB407 = 407,
    FB408 = 408,
    FB409 = 409,
    FB410 = 410,
    FB411 = 411,
    FB412 = 412,
    FB413 = 413,
    FB414 = 414,
    FB415 = 415,
    FB416 = 416,
    FB417 = 417,
    FB418 = 418,
    FB500 = 500,
    FB501 = 501,
    FB600 = 600,
    FB601 = 601,
    FB602 = 602,
    FB603 = 603,
    FB604 = 604,
    FB605 = 605,
    FB606 = 606,
    FB607 = 607,
    FB608 = 608,
    FB609 = 609,
    FB610 = 610,
    FB611 = 611,
    FB612 = 612,
    FB613 = 613,
    FB614 = 614,
    FB615 = 615,
    FB616 = 616,
    FB617 = 617,
    FB618 = 618,
    FB619 = 619,
    FB620 = 620,
    FB621 = 621,
    FB622 = 622,
    FB623 = 623,
    FB624 = 624,
    FB625 = 625,
    FB626 = 626,
    FB999 = 999,
};

/// @brief The exact reference text of an error number, e.g. "FB301: Protocol error".
/// @note Texts are byte-exact to the reference, including the trailing blank of FB315.
/// @throws nothing.
std::string_view error_text(ErrorNumbers code) noexcept;

/// @brief The short code of an error number, e.g. "FB301".
/// @throws nothing.
std::string_view error_code(ErrorNumbers code) noexcept;

/// @brief Looks an error number up by its exact text (what travels in `errnum`).
/// @return the member whose text equals @p text exactly, or std::nullopt (no trimming, case-sensitive).
/// @throws nothing.
std::optional<ErrorNumbers> error_from_text(std::string_view text) noexcept;

/// @brief Looks an error number up by its short code ("FB301").
/// @return the member, or std::nullopt when the code is unknown.
/// @throws nothing.
std::optional<ErrorNumbers> error_from_code(std::string_view code) noexcept;

/// @brief All error numbers in the reference's declaration order (82 members).
/// @throws nothing.
const std::vector<ErrorNumbers>& all_error_numbers() noexcept;

/// @brief Base of every exception thrown by this library.
///
/// what() is "<error text>" or "<error text>: <detail>".
class FedbiomedError : public std::runtime_error {
public:
    /// @brief Builds the error; @p detail may be empty.
    FedbiomedError(ErrorNumbers code, const std::string& detail);

    /// @brief The error number this exception carries.
    ErrorNumbers code() const noexcept { return code_; }

    /// @brief The text after the error number's own text (may be empty).
    const std::string& detail() const noexcept { return detail_; }

private:
    ErrorNumbers code_;
    std::string detail_;
};

/// @brief Connection and transport failures (FB1xx), e.g. FB101 when the broker refuses or cannot be reached.
class MessagingError : public FedbiomedError {
public:
    using FedbiomedError::FedbiomedError;
};

/// @brief A message that is not valid: validation failures of the factories (FB601).
class MessageError : public FedbiomedError {
public:
    using FedbiomedError::FedbiomedError;
};

/// @brief A payload that cannot be decoded: not UTF-8, not JSON, nested too deep, too large (FB601).
class DecodeError : public MessageError {
public:
    using MessageError::MessageError;
};

/// @brief An incompatible protocol version (FB104) or a version of the wrong JSON type (FB625).
class VersionError : public FedbiomedError {
public:
    using FedbiomedError::FedbiomedError;
};

/// @brief A version string that is not a PEP 440 version at all, e.g. "abc" (FB625).
///
/// The reference raises packaging's InvalidVersion (no FB code) here; we give it FB625 and its own type.
class InvalidVersionError : public VersionError {
public:
    using VersionError::VersionError;
};

/// @brief Failures of the logger and of log forwarding (FB602).
class LoggerError : public FedbiomedError {
public:
    using FedbiomedError::FedbiomedError;
};

}  // namespace fedbiomed
