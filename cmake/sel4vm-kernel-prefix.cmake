# Build-time helper of sel4vm.cmake (a seL4 build without SEL4_PREFIX):
# copies the kernel files the Rust ABI crate reads into a prefix-shaped
# directory, SEL4VM_PREFIX/libsel4/include/..., taking each from the first
# of libsel4's include directories that has it -- what the kernel's own
# `install` would put there. Copies only what changed, so cargo rebuilds the
# ABI crate only when the kernel configuration or interface changed.
#
#   cmake -DSEL4VM_INPUTS=<file> -P sel4vm-kernel-prefix.cmake
#
# SEL4VM_INPUTS (written by sel4vm.cmake with file(GENERATE)) sets
# SEL4VM_PREFIX, SEL4VM_FILES (paths relative to the prefix, all under
# libsel4/include/) and SEL4VM_SEARCH_DIRS.

cmake_minimum_required(VERSION 3.16)

if(NOT EXISTS "${SEL4VM_INPUTS}")
    message(FATAL_ERROR "sel4vm: ${SEL4VM_INPUTS} missing (re-run cmake)")
endif()
include("${SEL4VM_INPUTS}")

list(REMOVE_ITEM SEL4VM_SEARCH_DIRS "")
list(REMOVE_DUPLICATES SEL4VM_SEARCH_DIRS)
foreach(rel IN LISTS SEL4VM_FILES)
    string(REGEX REPLACE "^libsel4/include/" "" inc "${rel}")
    set(found "")
    foreach(dir IN LISTS SEL4VM_SEARCH_DIRS)
        if(EXISTS "${dir}/${inc}")
            set(found "${dir}/${inc}")
            break()
        endif()
    endforeach()
    if(found STREQUAL "")
        string(REPLACE ";" "\n  " dirs "${SEL4VM_SEARCH_DIRS}")
        message(FATAL_ERROR "sel4vm: the seL4 build has no ${inc} in libsel4's include "
                            "directories (targets sel4, sel4_autoconf):\n  ${dirs}")
    endif()
    get_filename_component(parent "${SEL4VM_PREFIX}/${rel}" DIRECTORY)
    file(MAKE_DIRECTORY "${parent}")
    execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${found}"
                            "${SEL4VM_PREFIX}/${rel}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "sel4vm: cannot copy ${found} to ${SEL4VM_PREFIX}/${rel}")
    endif()
endforeach()
