#!/usr/bin/env bash
# Installs the Debian packages this project needs, if any is missing. Idempotent: when everything is
# there it changes nothing and needs no network. Runs apt-get as root, or through sudo.
set -euo pipefail

packages=(
    cmake ninja-build g++ pkg-config
    libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
    nlohmann-json3-dev libspdlog-dev libfmt-dev
    googletest libgtest-dev
    mosquitto mosquitto-clients
    python3 python3-paho-mqtt
)
# Extra tools for the sanitizer/fuzz builds and the code-style checks.
if [[ "${FBM_BOOTSTRAP_TOOLS:-1}" == "1" ]]; then
    packages+=(clang libclang-rt-14-dev clang-format clang-tidy)
fi
# Extra tools for the benchmark.
if [[ "${FBM_BOOTSTRAP_BENCH:-0}" == "1" ]]; then
    packages+=(gnuplot-nox valgrind)
fi

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
as_root=()
if [[ $(id -u) -ne 0 ]]; then
    as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
