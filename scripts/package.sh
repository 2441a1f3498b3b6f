#!/usr/bin/env bash
# The Debian packages: installs what is missing, builds the "release" preset and runs CPack's DEB
# generator (the "deb" package preset), leaving in build/release/packages/
#   libfedbiomed-messaging-dev_<version>-1_<arch>.deb   static library, headers, CMake and pkg-config files
#   fedbiomed-messaging-tools_<version>-1_<arch>.deb    fbm-node, fbm-researcher and their man pages
#
#   bash scripts/package.sh              # build the two packages
#   bash scripts/package.sh --install    # then install them with apt-get (as root or via sudo) and check
#                                        # them from /usr: the programs, their man pages, and a downstream
#                                        # program built with find_package and with pkg-config
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

install=0
for arg in "$@"; do
    case "$arg" in
    --install) install=1 ;;
    -h | --help)
        sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "package.sh: unknown argument '$arg' (see --help)" >&2
        exit 2
        ;;
    esac
done

# The build and packaging tools; not the sanitizer/fuzz/format ones.
FBM_BOOTSTRAP_TOOLS=0 bash scripts/bootstrap.sh

cmake --preset release
cmake --build --preset release
out="$root/build/release/packages"
rm -rf "$out"
cpack --preset deb
debs=("$out"/*.deb)
echo "package.sh: built ${#debs[@]} package(s) in $out:"
for deb in "${debs[@]}"; do
    echo "  $(basename "$deb")"
    dpkg-deb --field "$deb" Depends | sed 's/^/      Depends: /'
done

if ((install == 0)); then
    exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
    as_root=(sudo)
fi
# Every dependency is among the bootstrap packages already installed, so this needs no download.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${debs[@]}"

version="$(dpkg-query -W -f='${Version}' libfedbiomed-messaging-dev)"
version="${version%-*}"
echo "package.sh: installed version $version; checking it from /usr"

for program in fbm-node fbm-researcher; do
    path="$(command -v "$program")"
    [[ "$path" == /usr/bin/$program ]] || { echo "package.sh: $program is not /usr/bin/$program: $path" >&2; exit 1; }
    said="$("$program" --version)"
    echo "$said"
    [[ "$said" == "$program (fedbiomed-messaging) $version"$'\n'* ]] ||
        { echo "package.sh: unexpected $program --version" >&2; exit 1; }
    # The man page, read the way man would (man-db is not part of a minimal system: zcat otherwise).
    page="/usr/share/man/man1/$program.1.gz"
    if command -v man >/dev/null 2>&1; then
        text="$(man -l "$page" 2>/dev/null)"
    else
        text="$(zcat "$page")"
    fi
    head -n 12 <<<"$text"
    grep -q 'SYNOPSIS' <<<"$text" || { echo "package.sh: $page has no SYNOPSIS" >&2; exit 1; }
done

libdir="$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' build/release/CMakeCache.txt)"
# The downstream program of the packaging tests, built against /usr with find_package and with pkg-config.
work="$(mktemp -d "${TMPDIR:-/tmp}/fbm-package-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
common=(
    -DFBM_CONSUMER_SOURCE="$root/tests/package/consumer"
    -DFBM_GENERATOR=Ninja
    -DFBM_CXX_COMPILER=c++
    -DFBM_EXPECT_VERSION="$version"
    -DFBM_LIBDIR="$libdir"
    -DFBM_PREFIX=/usr
)
cmake -DFBM_STEP=consume -DFBM_CONSUMER_MODE=find_package -DFBM_CONSUMER_BUILD="$work/find_package" \
    -DFBM_CONFIG=Release "${common[@]}" -P tests/package/package_test.cmake
cmake -DFBM_STEP=pkgconfig -DFBM_CONSUMER_BUILD="$work/pkg-config" "${common[@]}" \
    -P tests/package/package_test.cmake
echo "package.sh: the installed packages work (programs, man pages, find_package, pkg-config --static)"
