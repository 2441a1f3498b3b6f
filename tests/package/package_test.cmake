# Steps of the packaging tests (see CMakeLists.txt), run with `cmake -DFBM_STEP=<step> ... -P`.
#   install:  cmake --install <build> --prefix <prefix>, into a fresh prefix; the programs run from it
#   headers:  no installed public header includes a Paho header, nor any spdlog header but <spdlog/fwd.h>
#   consume:  configure, build and run tests/package/consumer against <prefix>
cmake_minimum_required(VERSION 3.25)

function(fbm_run what)
    execute_process(COMMAND ${ARGN}
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
    endif()
    set(FBM_LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

if(FBM_STEP STREQUAL "install")
    file(REMOVE_RECURSE "${FBM_PREFIX}")
    set(config_args)
    if(FBM_CONFIG)
        set(config_args --config "${FBM_CONFIG}")
    endif()
    fbm_run("cmake --install" "${CMAKE_COMMAND}" --install "${FBM_BUILD_DIR}" --prefix "${FBM_PREFIX}" ${config_args})
    foreach(expected
            include/fedbiomed/messaging.hpp
            include/fedbiomed/message.hpp
            lib/cmake/fedbiomed_messaging/fedbiomed_messaging-config.cmake
            lib/cmake/fedbiomed_messaging/fedbiomed_messaging-config-version.cmake
            lib/cmake/fedbiomed_messaging/fedbiomed_messaging-targets.cmake)
        if(NOT EXISTS "${FBM_PREFIX}/${expected}")
            message(FATAL_ERROR "the installed package lacks ${expected}")
        endif()
    endforeach()
    file(GLOB_RECURSE archives "${FBM_PREFIX}/lib*/libfedbiomed_messaging*.a")
    if(NOT archives)
        message(FATAL_ERROR "the installed package lacks the static library")
    endif()
    if(FBM_EXPECT_PROGRAMS)
        # The programs are installed and run from the prefix (the library is linked statically).
        foreach(program fbm-node fbm-researcher)
            if(NOT EXISTS "${FBM_PREFIX}/bin/${program}")
                message(FATAL_ERROR "the installed package lacks bin/${program}")
            endif()
            fbm_run("${program} --help" "${FBM_PREFIX}/bin/${program}" --help)
            if(NOT FBM_LAST_OUTPUT MATCHES "--broker")
                message(FATAL_ERROR "${program} --help does not describe --broker:\n${FBM_LAST_OUTPUT}")
            endif()
        endforeach()
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
    file(REMOVE_RECURSE "${FBM_CONSUMER_BUILD}")
    set(configure_args
        -S "${FBM_CONSUMER_SOURCE}" -B "${FBM_CONSUMER_BUILD}" -G "${FBM_GENERATOR}"
        "-DCMAKE_PREFIX_PATH=${FBM_PREFIX}"
        "-DCMAKE_CXX_COMPILER=${FBM_CXX_COMPILER}"
        "-DCMAKE_CXX_FLAGS=${FBM_CXX_FLAGS}"
        "-DCMAKE_EXE_LINKER_FLAGS=${FBM_LINKER_FLAGS}"
        # Only the installed copy may be found, never a build tree through the user package registry.
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
    if(FBM_CONFIG)
        list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${FBM_CONFIG}")
    endif()
    fbm_run("configuring the downstream project" "${CMAKE_COMMAND}" ${configure_args})
    file(STRINGS "${FBM_CONSUMER_BUILD}/CMakeCache.txt" found_dir REGEX "^fedbiomed_messaging_DIR:")
    string(FIND "${found_dir}" "${FBM_PREFIX}/" at)
    if(NOT at GREATER -1)
        message(FATAL_ERROR "the downstream project did not use the installed package: ${found_dir}")
    endif()
    fbm_run("building the downstream project" "${CMAKE_COMMAND}" --build "${FBM_CONSUMER_BUILD}")
    find_program(consumer NAMES fbm_consumer PATHS "${FBM_CONSUMER_BUILD}" PATH_SUFFIXES "${FBM_CONFIG}"
                 NO_DEFAULT_PATH REQUIRED)
    fbm_run("running the downstream program" "${consumer}")
    set(output "${FBM_LAST_OUTPUT}")
    message(STATUS "downstream program said:\n${output}")
    foreach(expected
            "ping: {\"protocol_version\": \"1\", \"researcher_id\": \"researcher_pkg\", \"sequence\": 42, \"command\": \"ping\"}"
            "decoded: PingRequest sequence=42"
            "default send topic: general/nodes"
            "connected: no")
        string(FIND "${output}" "${expected}" at)
        if(at EQUAL -1)
            message(FATAL_ERROR "the downstream program's output lacks '${expected}':\n${output}")
        endif()
    endforeach()

else()
    message(FATAL_ERROR "unknown FBM_STEP '${FBM_STEP}'")
endif()
