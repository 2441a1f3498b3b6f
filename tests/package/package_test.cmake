# Steps of the packaging tests (see CMakeLists.txt), run with `cmake -DFBM_STEP=<step> ... -P`.
#   install:    cmake --install <build> --prefix <prefix>, into a fresh prefix; the programs run from it
#   headers:    no installed public header includes a Paho or OpenSSL header, nor any spdlog header but
#               <spdlog/fwd.h>
#   consume:    configure, build and run tests/package/consumer: against <prefix> with find_package, or
#               with the source tree through add_subdirectory or FetchContent (FBM_CONSUMER_MODE)
#   pkgconfig:  compile and run the consumer's main.cpp with `pkg-config --cflags --libs --static` against
#               <prefix>
#   deb:        cpack -G DEB from <build>, checks both packages (names, Depends, contents), unpacks them
#               with dpkg-deb -x into <deb dir>/root, runs the unpacked programs and reads their man pages
# scripts/package.sh --install reuses the consume and pkgconfig steps against /usr.
cmake_minimum_required(VERSION 3.25)

# Runs a command; fails the test with its output when it fails. Its stdout is left in FBM_LAST_OUTPUT.
function(fbm_run what)
    execute_process(COMMAND ${ARGN}
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
    endif()
    set(FBM_LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

function(fbm_expect_in text what)
    foreach(expected IN LISTS ARGN)
        string(FIND "${text}" "${expected}" at)
        if(at EQUAL -1)
            message(FATAL_ERROR "${what} lacks '${expected}':\n${text}")
        endif()
    endforeach()
endfunction()

function(fbm_expect_files root what)
    foreach(expected IN LISTS ARGN)
        if(NOT EXISTS "${root}/${expected}")
            message(FATAL_ERROR "${what} lacks ${expected} (looked in ${root})")
        endif()
    endforeach()
endfunction()

# Runs the consumer program and checks what it says (tests/package/consumer/main.cpp).
function(fbm_run_consumer program)
    fbm_run("running the downstream program" "${program}")
    set(output "${FBM_LAST_OUTPUT}")
    message(STATUS "downstream program said:\n${output}")
    set(expected
        "ping: {\"protocol_version\": \"1\", \"researcher_id\": \"researcher_pkg\", \"sequence\": 42, \"command\": \"ping\"}"
        "decoded: PingRequest sequence=42"
        "default send topic: general/nodes"
        "connected: no")
    if(FBM_EXPECT_VERSION)
        list(APPEND expected "library version: ${FBM_EXPECT_VERSION} (headers ${FBM_EXPECT_VERSION})")
    endif()
    fbm_expect_in("${output}" "the downstream program's output" ${expected})
endfunction()

# The files of the development package, relative to its prefix (FBM_LIBDIR: CMAKE_INSTALL_LIBDIR).
set(fbm_dev_files
    include/fedbiomed/messaging.hpp
    include/fedbiomed/message.hpp
    include/fedbiomed/library_version.hpp
    ${FBM_LIBDIR}/libfedbiomed_messaging.a
    ${FBM_LIBDIR}/cmake/fedbiomed_messaging/fedbiomed_messaging-config.cmake
    ${FBM_LIBDIR}/cmake/fedbiomed_messaging/fedbiomed_messaging-config-version.cmake
    ${FBM_LIBDIR}/cmake/fedbiomed_messaging/fedbiomed_messaging-targets.cmake
    ${FBM_LIBDIR}/pkgconfig/fedbiomed-messaging.pc)
set(fbm_program_files bin/fbm-node bin/fbm-researcher)
set(fbm_man_files share/man/man1/fbm-node.1.gz share/man/man1/fbm-researcher.1.gz)

# Runs the programs found under <root>/bin: --version names the library's version.
function(fbm_check_programs root)
    foreach(program fbm-node fbm-researcher)
        fbm_run("${program} --help" "${root}/bin/${program}" --help)
        fbm_expect_in("${FBM_LAST_OUTPUT}" "${program} --help" "--broker")
        fbm_run("${program} --version" "${root}/bin/${program}" --version)
        fbm_expect_in("${FBM_LAST_OUTPUT}" "${program} --version"
            "${program} (fedbiomed-messaging) ${FBM_EXPECT_VERSION}")
    endforeach()
endfunction()

# Reads the gzipped man pages under <root>/share/man/man1: a real page, of this version, with the options.
function(fbm_check_man_pages root)
    find_program(gzip gzip REQUIRED)
    foreach(program fbm-node fbm-researcher)
        fbm_run("reading the man page of ${program}" "${gzip}" -dc "${root}/share/man/man1/${program}.1.gz")
        string(TOUPPER "${program}" title)
        fbm_expect_in("${FBM_LAST_OUTPUT}" "the man page of ${program}"
            ".TH ${title} \"1\"" "${FBM_EXPECT_VERSION}" ".SH SYNOPSIS" "\\-\\-broker" "\\-\\-version")
    endforeach()
endfunction()

if(FBM_STEP STREQUAL "install")
    file(REMOVE_RECURSE "${FBM_PREFIX}")
    set(config_args)
    if(FBM_CONFIG)
        set(config_args --config "${FBM_CONFIG}")
    endif()
    fbm_run("cmake --install" "${CMAKE_COMMAND}" --install "${FBM_BUILD_DIR}" --prefix "${FBM_PREFIX}" ${config_args})
    fbm_expect_files("${FBM_PREFIX}" "the installed package" ${fbm_dev_files})
    if(FBM_EXPECT_PROGRAMS)
        # The programs are installed and run from the prefix (the library is linked statically).
        fbm_expect_files("${FBM_PREFIX}" "the installed package" ${fbm_program_files} ${fbm_man_files})
        fbm_check_programs("${FBM_PREFIX}")
        fbm_check_man_pages("${FBM_PREFIX}")
    endif()
    message(STATUS "installed into ${FBM_PREFIX}")

elseif(FBM_STEP STREQUAL "headers")
    file(GLOB_RECURSE headers LIST_DIRECTORIES false "${FBM_PREFIX}/include/*")
    if(NOT headers)
        message(FATAL_ERROR "no header installed under ${FBM_PREFIX}/include")
    endif()
    set(problems "")
    foreach(header IN LISTS headers)
        file(STRINGS "${header}" includes REGEX "^[ \t]*#[ \t]*include")
        foreach(line IN LISTS includes)
            # Paho C++ (<mqtt/...>) and Paho C (MQTTAsync.h, MQTTClient.h, MQTTProperties.h, ...).
            if(line MATCHES "[<\"](mqtt/|MQTT[A-Za-z]*\\.h)")
                string(APPEND problems "  ${header}: ${line}  (Paho)\n")
            elseif(line MATCHES "[<\"]openssl/")
                string(APPEND problems "  ${header}: ${line}  (OpenSSL)\n")
            elseif(line MATCHES "[<\"]spdlog/" AND NOT line MATCHES "[<\"]spdlog/fwd\\.h[>\"]")
                string(APPEND problems "  ${header}: ${line}  (only <spdlog/fwd.h> may be public)\n")
            endif()
        endforeach()
    endforeach()
    if(problems)
        message(FATAL_ERROR "installed public headers include private dependencies:\n${problems}")
    endif()
    list(LENGTH headers count)
    message(STATUS "${count} installed header(s) checked")

elseif(FBM_STEP STREQUAL "consume")
    if(NOT FBM_CONSUMER_MODE)
        set(FBM_CONSUMER_MODE find_package)
    endif()
    file(REMOVE_RECURSE "${FBM_CONSUMER_BUILD}")
    set(configure_args
        -S "${FBM_CONSUMER_SOURCE}" -B "${FBM_CONSUMER_BUILD}" -G "${FBM_GENERATOR}"
        "-DFBM_CONSUMER_MODE=${FBM_CONSUMER_MODE}"
        "-DCMAKE_CXX_COMPILER=${FBM_CXX_COMPILER}"
        "-DCMAKE_CXX_FLAGS=${FBM_CXX_FLAGS}"
        "-DCMAKE_EXE_LINKER_FLAGS=${FBM_LINKER_FLAGS}"
        "-DCMAKE_BUILD_TYPE=${FBM_CONFIG}"
        # Only the copy under test may be found, never a build tree through the user package registry.
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
    if(FBM_CONSUMER_MODE STREQUAL "find_package")
        list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${FBM_PREFIX}")
    else()
        list(APPEND configure_args "-DFBM_SOURCE_DIR=${FBM_SOURCE_DIR}")
    endif()
    fbm_run("configuring the downstream project (${FBM_CONSUMER_MODE})" "${CMAKE_COMMAND}" ${configure_args})
    if(FBM_CONSUMER_MODE STREQUAL "find_package")
        file(STRINGS "${FBM_CONSUMER_BUILD}/CMakeCache.txt" found_dir REGEX "^fedbiomed_messaging_DIR:")
        string(FIND "${found_dir}" "${FBM_PREFIX}/" at)
        if(NOT at GREATER -1)
            message(FATAL_ERROR "the downstream project did not use the package in ${FBM_PREFIX}: ${found_dir}")
        endif()
    else()
        fbm_expect_in("${FBM_LAST_OUTPUT}" "the parent project's configure output" "parent untouched")
    endif()
    fbm_run("building the downstream project" "${CMAKE_COMMAND}" --build "${FBM_CONSUMER_BUILD}")
    find_program(consumer NAMES fbm_consumer PATHS "${FBM_CONSUMER_BUILD}" PATH_SUFFIXES "${FBM_CONFIG}"
                 NO_DEFAULT_PATH NO_CACHE REQUIRED)
    fbm_run_consumer("${consumer}")
    if(NOT FBM_CONSUMER_MODE STREQUAL "find_package")
        # Installing the parent must not install this library's files: its install rules are off.
        set(parent_prefix "${FBM_CONSUMER_BUILD}/parent-install")
        fbm_run("installing the parent project" "${CMAKE_COMMAND}" --install "${FBM_CONSUMER_BUILD}"
            --prefix "${parent_prefix}")
        file(GLOB_RECURSE installed LIST_DIRECTORIES false "${parent_prefix}/*")
        if(installed)
            message(FATAL_ERROR "installing the parent project installed this library's files:\n${installed}")
        endif()
    endif()

elseif(FBM_STEP STREQUAL "pkgconfig")
    find_program(pkg_config NAMES pkg-config pkgconf NO_CACHE REQUIRED)
    set(pc_dir "${FBM_PREFIX}/${FBM_LIBDIR}/pkgconfig")
    # Searched before the system's directories, so the copy under test wins over an installed one.
    set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
    fbm_run("pkg-config --modversion" "${pkg_config}" --modversion fedbiomed-messaging)
    string(STRIP "${FBM_LAST_OUTPUT}" version)
    if(FBM_EXPECT_VERSION AND NOT version STREQUAL FBM_EXPECT_VERSION)
        message(FATAL_ERROR "pkg-config says version '${version}', expected '${FBM_EXPECT_VERSION}'")
    endif()
    # The .pc file is relocatable: its paths resolve inside the prefix it was found in.
    fbm_run("pkg-config --variable=includedir" "${pkg_config}" --variable=includedir fedbiomed-messaging)
    string(STRIP "${FBM_LAST_OUTPUT}" includedir)
    file(REAL_PATH "${includedir}" includedir)
    file(REAL_PATH "${FBM_PREFIX}/include" expected_includedir)
    if(NOT includedir STREQUAL expected_includedir)
        message(FATAL_ERROR "pkg-config's includedir is ${includedir}, expected ${expected_includedir}")
    endif()
    fbm_run("pkg-config --cflags --libs --static" "${pkg_config}" --cflags --libs --static fedbiomed-messaging)
    string(STRIP "${FBM_LAST_OUTPUT}" flags)
    message(STATUS "pkg-config --cflags --libs --static fedbiomed-messaging:\n  ${flags}")
    separate_arguments(flag_list UNIX_COMMAND "${flags}")
    # The static library's whole link: itself, Paho C++ and C, spdlog, fmt and threads.
    foreach(expected -lfedbiomed_messaging -lpaho-mqttpp3 -lpaho-mqtt3as -lspdlog -lfmt -pthread)
        if(NOT expected IN_LIST flag_list)
            message(FATAL_ERROR "pkg-config --static does not give ${expected}: ${flags}")
        endif()
    endforeach()
    separate_arguments(cxx_flags UNIX_COMMAND "${FBM_CXX_FLAGS}")
    separate_arguments(linker_flags UNIX_COMMAND "${FBM_LINKER_FLAGS}")
    file(REMOVE_RECURSE "${FBM_CONSUMER_BUILD}")
    file(MAKE_DIRECTORY "${FBM_CONSUMER_BUILD}")
    set(program "${FBM_CONSUMER_BUILD}/fbm_consumer")
    fbm_run("compiling the consumer with pkg-config's flags"
        "${FBM_CXX_COMPILER}" ${cxx_flags} -std=c++17 -o "${program}" "${FBM_CONSUMER_SOURCE}/main.cpp"
        ${flag_list} ${linker_flags})
    fbm_run_consumer("${program}")

elseif(FBM_STEP STREQUAL "deb")
    file(REMOVE_RECURSE "${FBM_DEB_DIR}")
    set(config_args)
    if(FBM_CONFIG)
        set(config_args -C "${FBM_CONFIG}")
    endif()
    fbm_run("cpack -G DEB" "${FBM_CPACK}" --config "${FBM_BUILD_DIR}/CPackConfig.cmake" -G DEB
        -B "${FBM_DEB_DIR}/out" ${config_args})
    file(GLOB debs "${FBM_DEB_DIR}/out/*.deb")
    list(LENGTH debs count)
    if(NOT count EQUAL 2)
        message(FATAL_ERROR "cpack made ${count} .deb file(s), expected 2: ${debs}")
    endif()
    find_program(dpkg_deb dpkg-deb NO_CACHE REQUIRED)
    set(root "${FBM_DEB_DIR}/root")
    foreach(package libfedbiomed-messaging-dev fedbiomed-messaging-tools)
        file(GLOB deb "${FBM_DEB_DIR}/out/${package}_${FBM_EXPECT_VERSION}-*.deb")
        if(NOT deb)
            message(FATAL_ERROR "no ${package}_${FBM_EXPECT_VERSION}-*.deb among ${debs}")
        endif()
        fbm_run("reading ${deb}" "${dpkg_deb}" --field "${deb}" Package Version Depends)
        set(fields_${package} "${FBM_LAST_OUTPUT}")
        message(STATUS "${package}:\n${FBM_LAST_OUTPUT}")
        fbm_run("listing ${deb}" "${dpkg_deb}" --contents "${deb}")
        set(contents_${package} "${FBM_LAST_OUTPUT}")
        fbm_run("unpacking ${deb}" "${dpkg_deb}" -x "${deb}" "${root}")
    endforeach()

    # What a consumer's build needs comes with the -dev package; the tools depend on the shared libraries
    # they are linked with (dpkg-shlibdeps).
    fbm_expect_in("${fields_libfedbiomed-messaging-dev}" "libfedbiomed-messaging-dev's Depends"
        "libpaho-mqttpp-dev" "libpaho-mqtt-dev" "libssl-dev" "nlohmann-json3-dev" "libspdlog-dev" "libfmt-dev")
    fbm_expect_in("${fields_fedbiomed-messaging-tools}" "fedbiomed-messaging-tools' Depends"
        "libpaho-mqttpp3-1" "libpaho-mqtt1.3" "libspdlog1" "libfmt" "libstdc++6" "libc6")

    # Each file is in the package it belongs to, and only there.
    set(dev_in_usr)
    foreach(file IN LISTS fbm_dev_files)
        list(APPEND dev_in_usr "./usr/${file}")
    endforeach()
    set(tools_in_usr)
    foreach(file IN LISTS fbm_program_files fbm_man_files)
        list(APPEND tools_in_usr "./usr/${file}")
    endforeach()
    fbm_expect_in("${contents_libfedbiomed-messaging-dev}" "libfedbiomed-messaging-dev" ${dev_in_usr})
    fbm_expect_in("${contents_fedbiomed-messaging-tools}" "fedbiomed-messaging-tools" ${tools_in_usr})
    if(contents_libfedbiomed-messaging-dev MATCHES "usr/bin/" OR
       contents_fedbiomed-messaging-tools MATCHES "usr/include/|\\.a\n")
        message(FATAL_ERROR "the programs and the development files are not split between the packages")
    endif()

    fbm_check_programs("${root}/usr")
    fbm_check_man_pages("${root}/usr")
    message(STATUS "both packages unpacked into ${root}")

else()
    message(FATAL_ERROR "unknown FBM_STEP '${FBM_STEP}'")
endif()
