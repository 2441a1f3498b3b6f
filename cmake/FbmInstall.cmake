# Installation of the static library, its public headers, a CMake package that
# find_package(fedbiomed_messaging) finds and a pkg-config file (fedbiomed-messaging.pc). A static
# library's private dependencies still appear in its link interface, so the package config
# find_dependency()s every one of them, and the .pc file lists them for `pkg-config --static`.
# Everything here is in the install component fbm_dev (the programs, in examples/, are fbm_tools): the
# Debian packages are cut along these components (cmake/FbmPackaging.cmake).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FBM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/fedbiomed_messaging")

install(TARGETS fedbiomed_messaging
    EXPORT fedbiomed_messaging_targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT fbm_dev
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/fedbiomed DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT fbm_dev)
install(FILES "${FBM_GENERATED_INCLUDE_DIR}/fedbiomed/library_version.hpp"
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/fedbiomed COMPONENT fbm_dev)
install(EXPORT fedbiomed_messaging_targets
    NAMESPACE fedbiomed::
    FILE fedbiomed_messaging-targets.cmake
    DESTINATION ${FBM_INSTALL_CMAKEDIR}
    COMPONENT fbm_dev)

configure_package_config_file(
    cmake/fedbiomed_messaging-config.cmake.in
    "${PROJECT_BINARY_DIR}/fedbiomed_messaging-config.cmake"
    INSTALL_DESTINATION ${FBM_INSTALL_CMAKEDIR})
write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/fedbiomed_messaging-config-version.cmake"
    COMPATIBILITY SameMinorVersion)
install(FILES
    "${PROJECT_BINARY_DIR}/fedbiomed_messaging-config.cmake"
    "${PROJECT_BINARY_DIR}/fedbiomed_messaging-config-version.cmake"
    DESTINATION ${FBM_INSTALL_CMAKEDIR}
    COMPONENT fbm_dev)

# pkg-config. The paths are relative to the .pc file itself (${pcfiledir}), so the same file works in
# any prefix: /usr from the Debian package, a `cmake --install --prefix`, or an unpacked .deb.
# Requires: what the public headers include (nlohmann/json, spdlog's forward declarations; fmt comes with
# spdlog). Libs.private / Requires.private: what only the static library's link needs, given by
# `pkg-config --static`. Paho ships no .pc file, hence plain -l flags for Paho C++ and Paho C; Paho C
# built with TLS (PAHO_WITH_SSL, set by PahoMqttCpp's package config) is paho-mqtt3as and needs OpenSSL.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(FBM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
    set(FBM_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
    set(FBM_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
    file(RELATIVE_PATH fbm_pc_up "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
    string(REGEX REPLACE "/$" "" fbm_pc_up "${fbm_pc_up}")
    set(FBM_PC_PREFIX "\${pcfiledir}/${fbm_pc_up}")
    set(FBM_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
    set(FBM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# The library itself reads certificates with OpenSSL (src/certificate_identity.cpp, transport/tls_probe.cpp).
set(FBM_PC_REQUIRES_PRIVATE "libssl, libcrypto")
if(PAHO_WITH_SSL)
    set(FBM_PC_PAHO_C "-lpaho-mqtt3as")
else()
    set(FBM_PC_PAHO_C "-lpaho-mqtt3a")
endif()
configure_file(cmake/fedbiomed-messaging.pc.in "${PROJECT_BINARY_DIR}/fedbiomed-messaging.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/fedbiomed-messaging.pc"
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
    COMPONENT fbm_dev)
