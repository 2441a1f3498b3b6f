# The `docs` target: the API reference of the public headers (include/fedbiomed/ and the generated
# library_version.hpp), with Doxygen, into <build>/docs/html. Warnings are errors: the target fails when a
# public declaration is undocumented or a comment is malformed (every warning is printed first).
find_package(Doxygen)
if(NOT DOXYGEN_FOUND)
    message(STATUS "Doxygen not found: no 'docs' target (install the doxygen package)")
    return()
endif()

set(DOXYGEN_PROJECT_NAME "fedbiomed-messaging")
set(DOXYGEN_PROJECT_NUMBER "${PROJECT_VERSION}")
set(DOXYGEN_PROJECT_BRIEF "${PROJECT_DESCRIPTION}")
set(DOXYGEN_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/docs")
set(DOXYGEN_FILE_PATTERNS "*.hpp")
set(DOXYGEN_FULL_PATH_NAMES YES)
# Shown as <fedbiomed/messaging.hpp>, as a user includes it.
set(DOXYGEN_STRIP_FROM_PATH "${PROJECT_SOURCE_DIR}/include" "${FBM_GENERATED_INCLUDE_DIR}")
set(DOXYGEN_STRIP_FROM_INC_PATH "${PROJECT_SOURCE_DIR}/include" "${FBM_GENERATED_INCLUDE_DIR}")
set(DOXYGEN_EXTRACT_ALL NO)
set(DOXYGEN_EXCLUDE_SYMBOLS "fedbiomed::detail" "detail")
set(DOXYGEN_WARN_IF_UNDOCUMENTED YES)
set(DOXYGEN_WARN_IF_DOC_ERROR YES)
set(DOXYGEN_WARN_AS_ERROR FAIL_ON_WARNINGS)
# No Graphviz: the diagrams are not worth a dependency.
set(DOXYGEN_HAVE_DOT NO)
set(DOXYGEN_GENERATE_LATEX NO)
set(DOXYGEN_QUIET YES)
set(DOXYGEN_SORT_MEMBER_DOCS NO)

doxygen_add_docs(docs
    "${PROJECT_SOURCE_DIR}/include/fedbiomed"
    "${FBM_GENERATED_INCLUDE_DIR}/fedbiomed/library_version.hpp"
    COMMENT "API reference (Doxygen) into ${DOXYGEN_OUTPUT_DIRECTORY}/html")
