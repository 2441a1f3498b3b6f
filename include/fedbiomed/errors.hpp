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
/// travels as its full text (see error_text()). Each member's comment is that text without its "FBnnn: "
/// prefix. deserialize_msg() turns a top-level `errnum` text that matches no member into FB999.
enum class ErrorNumbers : std::uint16_t {
    FB100 = 100,  ///< undetermined messaging server error
    FB101 = 101,  ///< cannot connect to the messaging server
    FB102 = 102,  ///< messaging server does not answer in dedicated time
    FB103 = 103,  ///< messaging call error
    FB104 = 104,  ///< message exchange error
    FB200 = 200,  ///< undetermined repository server error
    FB201 = 201,  ///< server not reachable
    FB202 = 202,  ///< server returns 404 error
    FB203 = 203,  ///< server returns other 4xx or 500 error
    FB300 = 300,  ///< undetermined node error
    FB301 = 301,  ///< Protocol error
    FB302 = 302,  ///< TrainingPlan class does not load
    FB303 = 303,  ///< TrainingPlan class does not contain expected methods
    FB304 = 304,  ///< TrainingPlan method crashes
    FB305 = 305,  ///< TrainingPlan loops indefinitely
    FB306 = 306,  ///< bad URL for TrainingPlan (.py)
    FB307 = 307,  ///< bad URL for training params (.mpk)
    FB308 = 308,  ///< bad training request (.json)
    FB309 = 309,  ///< bad model params (.mpk)
    FB310 = 310,  ///< bad data format
    FB311 = 311,  ///< receiving a new computation request during a running computation
    FB312 = 312,  ///< Node stopped in SIGTERM signal handler
    FB313 = 313,  ///< no dataset matching request
    FB314 = 314,  ///< Node round error
    FB315 = 315,  ///< Error while loading the data
    FB316 = 316,  ///< Data loading plan error
    FB317 = 317,  ///< FLamby package import error
    FB318 = 318,  ///< Secure aggregation setup error
    FB319 = 319,  ///< Command not found error
    FB320 = 320,  ///< bad model type
    FB321 = 321,  ///< Secure aggregation delete error
    FB322 = 322,  ///< Dataset registration error
    FB323 = 323,  ///< Node State error
    FB400 = 400,  ///< undetermined application error
    FB401 = 401,  ///< aggregation crashes or returns an error
    FB402 = 402,  ///< strategy method crashes or sends an error
    FB403 = 403,  ///< bad URL (.pt) for model param
    FB404 = 404,  ///< bad model param (.pt) format for TrainingPlan
    FB405 = 405,  ///< received delayed answer for previous computation round
    FB406 = 406,  ///< list of nodes is empty at data lookup phase
    FB407 = 407,  ///< list of nodes became empty when training (all nodes failed training or did not answer)
    FB408 = 408,  ///< training failed on node or node did not answer during training
    FB409 = 409,  ///< node sent Status=Error during training
    FB410 = 410,  ///< bad type or value for experiment argument
    FB411 = 411,  ///< cannot train an experiment that is not fully defined
    FB412 = 412,  ///< cannot do model checking for experiment
    FB413 = 413,  ///< cannot save or load breakpoint for experiment
    FB414 = 414,  ///< bad type or value for training arguments
    FB415 = 415,  ///< secure aggregation handling error
    FB416 = 416,  ///< federated dataset error
    FB417 = 417,  ///< Secure aggregation error
    FB418 = 418,  ///< Node state agent error
    FB500 = 500,  ///< undetermined node error, detected by server
    FB501 = 501,  ///< node not reachable
    FB600 = 600,  ///< environ error
    FB601 = 601,  ///< message error
    FB602 = 602,  ///< logger error
    FB603 = 603,  ///< task queue error
    FB604 = 604,  ///< repository error
    FB605 = 605,  ///< training plan error
    FB606 = 606,  ///< model manager error
    FB607 = 607,  ///< data manager error
    FB608 = 608,  ///< torch data manager error
    FB609 = 609,  ///< scikit-learn data manager error
    FB610 = 610,  ///< Torch based tabular dataset creation error
    FB611 = 611,  ///< Error while trying to evaluate using the specified metric
    FB612 = 612,  ///< Torch based NIFTI dataset error
    FB613 = 613,  ///< Medical Folder dataset error
    FB614 = 614,  ///< data loading block error
    FB615 = 615,  ///< data loading plan error
    FB616 = 616,  ///< differential privacy controller error
    FB617 = 617,  ///< FLamby dataset error
    FB618 = 618,  ///< FLamby data transformation error
    FB619 = 619,  ///< Certificate error
    FB620 = 620,  ///< MPC protocol error
    FB621 = 621,  ///< declearn optimizer error
    FB622 = 622,  ///< Model error
    FB623 = 623,  ///< Secure aggregation database error
    FB624 = 624,  ///< Secure aggregation crypter error
    FB625 = 625,  ///< Component version error
    FB626 = 626,  ///< Fed-BioMed optimizer error
    FB999 = 999,  ///< unknown error code sent by the node
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
/// what() is "<error text>" or "<error text>: <detail>", for logs and messages to people.
///
/// **Exact texts:** read `error_text(code())` and detail(), not what(). The full text is
/// `error_text(code())` alone when detail() is empty, else `error_text(code()) + ": " + detail()`; it is
/// what the reference's exception would print, byte for byte where the reference's text is portable
/// (docs/conformance.md). what() returns a C string, so whoever reads it (strlen, printf, a C API, most
/// loggers) stops at the first NUL byte: an unknown command "pong\0" gives a what() ending in "pong",
/// while detail() keeps the NUL and what follows it. Texts quoted from untrusted input may be shortened
/// (see each thrower).
class FedbiomedError : public std::runtime_error {
public:
    /// @brief Builds the error; @p detail may be empty.
    FedbiomedError(ErrorNumbers code, const std::string& detail);

    /// @brief The error number this exception carries.
    ErrorNumbers code() const noexcept { return code_; }

    /// @brief The text after the error number's own text and its ": " (may be empty); unlike what(), it
    /// may hold NUL bytes.
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
