# Debian packages with CPack (`cpack --preset deb` after a release build, or scripts/package.sh), cut
# along the install components:
#   libfedbiomed-messaging-dev  (fbm_dev)    static library, headers, CMake package, pkg-config file
#   fedbiomed-messaging-tools   (fbm_tools)  fbm-node, fbm-researcher and their man pages
# The -dev package depends on the -dev packages a consumer's build needs: the static library's link
# interface (Paho C++ and C, spdlog, fmt, Threads) and what its CMake package finds (PahoMqttCpp's config
# finds OpenSSL). The tools' dependencies on shared libraries are computed by dpkg-shlibdeps.
set(FBM_PACKAGE_MAINTAINER "fedbiomed-messaging maintainers <maintainers@fedbiomed-messaging.invalid>"
    CACHE STRING "Maintainer field of the Debian packages")
set(FBM_PACKAGE_RELEASE "1" CACHE STRING "Debian revision of the packages (the part after the version)")

set(CPACK_PACKAGE_NAME "fedbiomed-messaging")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
# Each package's description below starts with its own summary line. CPack's DEB generator puts
# CPACK_PACKAGE_DESCRIPTION_SUMMARY above it unless that is CPack's placeholder value (otherwise taken
# from project(DESCRIPTION)), hence the placeholder. CPack indents the lines and turns empty ones into " .".
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_PACKAGE_CONTACT "${FBM_PACKAGE_MAINTAINER}")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/packages")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# Executables are stripped; a static library never is (CMake leaves archives alone).
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL fbm_dev)
if(FBM_BUILD_EXAMPLES)
    list(APPEND CPACK_COMPONENTS_ALL fbm_tools)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${FBM_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")

set(CPACK_DEBIAN_FBM_DEV_PACKAGE_NAME "libfedbiomed-messaging-dev")
set(CPACK_DEBIAN_FBM_DEV_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_FBM_DEV_PACKAGE_DEPENDS
    "libpaho-mqttpp-dev (>= 1.2), libpaho-mqtt-dev (>= 1.3), libssl-dev, nlohmann-json3-dev (>= 3.10), libspdlog-dev (>= 1:1.10), libfmt-dev")
set(CPACK_DEBIAN_FBM_DEV_PACKAGE_SUGGESTS "cmake, pkg-config")
set(CPACK_COMPONENT_FBM_DEV_DESCRIPTION
    "Fed-BioMed messaging over MQTT, in C++17 - development files
A C++17 message bus for federated learning over MQTT, compatible with the
MQTT messaging layer of Fed-BioMed 4.x (protocol version 1).

This package holds the static library, its headers, the CMake package
(find_package(fedbiomed_messaging), target fedbiomed::messaging) and the
pkg-config file (pkg-config --static fedbiomed-messaging).")

set(CPACK_DEBIAN_FBM_TOOLS_PACKAGE_NAME "fedbiomed-messaging-tools")
set(CPACK_DEBIAN_FBM_TOOLS_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_FBM_TOOLS_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_FBM_TOOLS_PACKAGE_SUGGESTS "mosquitto")
set(CPACK_COMPONENT_FBM_TOOLS_DESCRIPTION
    "Fed-BioMed messaging over MQTT - command-line node and researcher
fbm-node answers a Fed-BioMed researcher's ping, list and search requests
over an MQTT broker; fbm-researcher sends them and prints the replies.
Both speak the messaging protocol of Fed-BioMed 4.x (version 1).")

# Debian wants the licence in /usr/share/doc/<package>/copyright in each package.
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" RENAME copyright
    DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_FBM_DEV_PACKAGE_NAME}" COMPONENT fbm_dev)
if(FBM_BUILD_EXAMPLES)
    install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" RENAME copyright
        DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_FBM_TOOLS_PACKAGE_NAME}"
        COMPONENT fbm_tools)
endif()

include(CPack)
