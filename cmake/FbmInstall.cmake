# Installation of the static library, its public headers and a CMake package that
# find_package(fedbiomed_messaging) finds. A static library's private dependencies still appear in its
# link interface, so the package config find_dependency()s every one of them.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FBM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/fedbiomed_messaging")

install(TARGETS fedbiomed_messaging
    EXPORT fedbiomed_messaging_targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/fedbiomed DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT fedbiomed_messaging_targets
    NAMESPACE fedbiomed::
    FILE fedbiomed_messaging-targets.cmake
    DESTINATION ${FBM_INSTALL_CMAKEDIR})

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
    DESTINATION ${FBM_INSTALL_CMAKEDIR})
