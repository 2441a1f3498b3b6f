#!/usr/bin/env bash
# Installs the Debian packages this project needs, if any is missing. Idempotent: when everything is
# there it changes nothing and needs no network. Runs apt-get as root, or through sudo.
set -euo pipefail

# What the build, the demo, every test (scripts/test.sh), the docs and the packages need, on a bare Debian
# 12 (a minimal install with git and sudo: no python3, openssl, file, doxygen ...). Every command that
# the scripts and tests run is here or in Debian's essential set (bash, coreutils, grep, sed, gzip, dpkg).
packages=(
    # build
    cmake ninja-build g++ pkg-config
    libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
    nlohmann-json3-dev libspdlog-dev libfmt-dev
    # tests: gtest, the broker and its clients, the reference-style Python peer, TLS certificates (openssl)
    googletest libgtest-dev
    mosquitto mosquitto-clients
    python3 python3-paho-mqtt
    openssl
    # the `cluster` tests: a throw-away 3-node RabbitMQ cluster (MQTT plugin) on loopback; the tests run
    # its programs from /usr/lib/rabbitmq/bin with private ports and data. On a host with systemd the
    # package also starts a system broker of its own (ports 5672/25672/4369, no MQTT), which the tests
    # never use: `systemctl disable --now rabbitmq-server` removes it.
    rabbitmq-server
    # man pages (help2man), API reference (doxygen), Debian packages: cpack's DEB generator needs file
    # and dpkg-shlibdeps (dpkg-dev)
    help2man doxygen dpkg-dev file
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
