// The library's own version, compiled in from the generated header (cmake/library_version.hpp.in).
#include "fedbiomed/library_version.hpp"

namespace fedbiomed {

std::string_view library_version() noexcept {
    return FEDBIOMED_MESSAGING_VERSION_STRING;
}

}  // namespace fedbiomed
