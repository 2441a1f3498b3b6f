/// @file version.hpp
/// @brief The messaging protocol version and the reference's compatibility rule (spec section 4.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fedbiomed/json.hpp"

namespace fedbiomed {

/// @brief The protocol version this library speaks: "1", as Fed-BioMed 4.4 and 4.5.
inline constexpr std::string_view kProtocolVersion = "1";

/// @brief A PEP 440 version, parsed the way Python's `packaging.version.Version` parses it.
///
/// Accepts surrounding whitespace, a leading `v`, an epoch (`1!2.0`), any number of release segments,
/// pre-releases (a/alpha, b/beta, c/rc/pre/preview), post-releases (`.post1`, `-1`, `rev`, `r`),
/// dev-releases and local segments (`+ubuntu.1`), with the separators and case PEP 440 allows.
///
/// Numbers are compared exactly whatever their size, as Python's unbounded integers are: each is kept as
/// its decimal digits ("007" -> "7"), so `1.18446744073709551616` is a newer minor than `1` and
/// `1.0.0.99999999999999999999` differs from `1` only in its fourth component. Like CPython 3.11's int(),
/// which packaging calls on every number, a digit run longer than 4300 characters is refused (the
/// reference raises a plain ValueError there; this library an InvalidVersionError). The whitespace
/// around the version is what Python's `\s` (str.isspace()) accepts, in UTF-8: the ASCII blanks, the
/// information separators U+001C..U+001F, and U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
/// U+202F, U+205F, U+3000.
///
/// One deliberate difference from packaging (docs/conformance.md lists all of them): inside the version,
/// only ASCII is accepted. packaging's case-insensitive regex, run on a Python str, also takes four
/// non-ASCII letters that case-fold to ASCII ones (U+0130, U+0131, U+017F, U+212A); here they make the
/// string invalid. No real peer sends them.
///
/// Parsing is linear in the length of the text and uses no recursion, whatever the input.
class Version {
public:
    /// @brief Parses @p text.
    /// @throws InvalidVersionError (FB625) when @p text is not a PEP 440 version; the message quotes it.
    static Version parse(std::string_view text);

    /// @brief Parses @p text; std::nullopt when it is not a PEP 440 version.
    /// @throws nothing except std::bad_alloc.
    static std::optional<Version> try_parse(std::string_view text);

    /// @brief First release component (0 when absent); UINT64_MAX when it does not fit in 64 bits (use
    /// release_component() for the exact value).
    std::uint64_t major() const noexcept;
    /// @brief Second release component (0 when absent); saturates at UINT64_MAX as major().
    std::uint64_t minor() const noexcept;
    /// @brief Third release component (0 when absent); saturates at UINT64_MAX as major().
    std::uint64_t micro() const noexcept;

    /// @brief Release component @p index (0 is the major) as its exact decimal digits without leading
    /// zeros, whatever its size: "1.007" gives "7" for index 1; "0" when the release has no such component.
    /// The view stays valid as long as this object is neither modified nor destroyed.
    /// @throws nothing.
    std::string_view release_component(std::size_t index) const noexcept;

    /// @brief The normalised form, as `str(Version(...))` prints it ("v1.0 " -> "1.0", "1.0RC1" -> "1.0rc1").
    /// @throws std::bad_alloc only.
    std::string str() const;

    /// @brief PEP 440 ordering: -1, 0 or 1. Trailing zero release components are insignificant.
    int compare(const Version& other) const noexcept;

    /// @brief Equal under PEP 440 (compare() == 0), not as texts: "1" == "1.0.0", "1.0RC1" == "1.0rc1".
    /// @throws nothing.
    bool operator==(const Version& other) const noexcept { return compare(other) == 0; }
    /// @brief Not equal under PEP 440 (compare() != 0). @throws nothing.
    bool operator!=(const Version& other) const noexcept { return compare(other) != 0; }
    /// @brief Ordered before @p other under PEP 440 (compare() < 0): "1.0.dev0" < "1.0a1" < "1.0" <
    /// "1.0.post1". @throws nothing.
    bool operator<(const Version& other) const noexcept { return compare(other) < 0; }

private:
    Version() = default;
    // Every number is held as its decimal digits without leading zeros ("0" for zero), so that numbers of
    // any size compare exactly (by length, then digit by digit), as Python's integers do.
    std::string epoch_{"0"};
    std::vector<std::string> release_;
    // Pre-release: kind 'a', 'b' or 'c' (rc) and number; absent when kind == 0.
    char pre_kind_ = 0;
    std::string pre_number_{"0"};
    std::optional<std::string> post_;
    std::optional<std::string> dev_;
    std::string local_;  // normalised: lowercase, segments joined by '.'; empty when absent
};

/// @brief What check_protocol_version() concluded when it did not throw.
enum class VersionVerdict {
    pass,  ///< equal under PEP 440: accepted silently
    warn,  ///< accepted, and a warning was logged (same major, peer not newer in minor/micro)
};

/// @brief The outcome of an accepted version, with the warning text when there was one.
struct VersionCheck {
    VersionVerdict verdict = VersionVerdict::pass;  ///< pass or warn
    /// "Found version <their>, expected version <our> -> See https://..." for warn; empty for pass.
    std::string warning;
};

/// @brief Applies the reference's compatibility rule to a peer's `protocol_version` value.
///
/// Thread-safe (no shared state besides the library logger). The reference's order is kept: a string
/// @p their is parsed first, then @p our, then a non-string @p their is rejected.
/// @param their the JSON value of the message's `protocol_version`, or nullptr when the key is absent
///        (which counts as "0", as in the reference).
/// @param our our version string (kProtocolVersion by default).
/// @return pass or warn; on warn the warning is also logged at WARNING on the library logger.
/// @throws VersionError with FB104 when the versions are incompatible (text exact to the reference:
///         "FB104: message exchange error: Received message with protocol version <their> which is
///         incompatible with the current protocol version <our> -> See https://fedbiomed.org/latest/
///         user-guide/deployment/versions for more information"); VersionError with FB625 when @p their is
///         not a string (a number, null, boolean, array or object): "FB625: Component version error:
///         Component version has incorrect type `their_version` type=<JSON type> value=<JSON text, cut to
///         200 bytes>". Both are also logged, on one line, at ERROR on the library logger (the reference
///         logs them at CRITICAL). InvalidVersionError (FB625, not logged) when @p their or @p our is a
///         string that is not a PEP 440 version: "FB625: Component version error: invalid version string
///         '<text, escaped, cut to 64 bytes>' (not a PEP 440 version)"; the reference raises packaging's
///         InvalidVersion there, which has no FB code.
VersionCheck check_protocol_version(const Json* their, std::string_view our = kProtocolVersion);

/// @brief check_protocol_version() on the `protocol_version` member of a decoded message.
/// @throws as check_protocol_version(); VersionError (FB625, logged at ERROR) if @p msg is not an object.
VersionCheck check_message_version(const Json& msg, std::string_view our = kProtocolVersion);

}  // namespace fedbiomed
