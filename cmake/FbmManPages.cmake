# Man pages generated from the programs themselves: help2man runs `<program> --help` and
# `<program> --version` after the program is linked and turns their text into a section-1 page, gzipped
# as Debian installs them (<build>/man/<program>.1.gz). Part of the default build.
find_program(FBM_HELP2MAN help2man)
find_program(FBM_GZIP gzip)
if(NOT FBM_HELP2MAN OR NOT FBM_GZIP)
    message(WARNING "help2man or gzip not found: fbm-node and fbm-researcher get no man page "
                    "(install the help2man package)")
endif()

# fbm_add_man_page(<program target> <one-line description for the NAME section>)
function(fbm_add_man_page program description)
    if(NOT FBM_HELP2MAN OR NOT FBM_GZIP)
        return()
    endif()
    set(dir "${PROJECT_BINARY_DIR}/man")
    set(page "${dir}/${program}.1")
    add_custom_command(
        OUTPUT "${page}.gz"
        COMMAND ${CMAKE_COMMAND} -E make_directory "${dir}"
        # --no-info: there is no texinfo manual. help2man fails if either option fails.
        COMMAND "${FBM_HELP2MAN}" --no-info --section=1 "--name=${description}"
                "--output=${page}" "$<TARGET_FILE:${program}>"
        COMMAND "${FBM_GZIP}" -9nf "${page}"
        DEPENDS ${program}
        COMMENT "Man page for ${program} (help2man)"
        VERBATIM)
    add_custom_target(${program}-man ALL DEPENDS "${page}.gz")
    set_property(GLOBAL APPEND PROPERTY FBM_MAN_PAGES "${page}.gz")
endfunction()

# fbm_install_man_pages(COMPONENT <component>): installs every page made by fbm_add_man_page.
function(fbm_install_man_pages)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "COMPONENT" "")
    get_property(pages GLOBAL PROPERTY FBM_MAN_PAGES)
    if(pages)
        install(FILES ${pages} DESTINATION "${CMAKE_INSTALL_MANDIR}/man1" COMPONENT ${arg_COMPONENT})
    endif()
endfunction()
