# sel4vm-rs CMake package: builds libsel4vm.a (the C API over the Rust
# sel4vm core, plus the libvmm-compat C functions) through cargo and
# exports it as the target `sel4vm::sel4vm` (alias of `sel4vm`, an INTERFACE
# library over the IMPORTED archive `sel4vm_archive`) with the <sel4vm/...>
# and <libvmm/...> include directories.
#
# Inputs (cache variables or environment):
#   SEL4_PREFIX           installed seL4 kernel (bin/kernel.elf,
#                         libsel4/include). Set: aarch64 seL4 build against
#                         that install (also inside a seL4 CMake build).
#                         Unset: see the three modes below.
#   SEL4VM_ROOT_TASK      seL4 build: include the root-task runtime that calls
#                         the application's sel4vm_root_main() (default ON).
#   SEL4VM_CARGO          cargo executable (default: found on PATH/~/.cargo/bin).
#   SEL4VM_CARGO_PROFILE  release (default) or dev.
#   SEL4VM_CARGO_TARGET_DIR  cargo target directory (default: in the build tree).
#
# Modes:
#   * SEL4_PREFIX set: the Rust crates read the kernel configuration and
#     interface files from that install; its libsel4/include is added to the
#     target's include directories.
#   * Inside a seL4 CMake/CAmkES build (the kernel configured in the same
#     tree: `KernelSel4Arch` defined, the kernel and libsel4 imported with
#     sel4_import_kernel()/sel4_import_libsel4() or add_subdirectory) and
#     SEL4_PREFIX empty: no kernel install is needed. At build time, after
#     libsel4's generation targets (`sel4_generated`, `sel4_autoconf_Gen`),
#     the files the Rust ABI crate reads (sel4-abi's
#     kernel_facts::INSTALL_FILES: gen_config.json, the interface XML,
#     objecttype.h, types_gen.h) are copied from the include directories of
#     the `sel4` and `sel4_autoconf` targets -- the directories the kernel's
#     own `install` merges into libsel4/include -- into a prefix-shaped
#     directory, <build>/sel4vm-kernel-prefix, and cargo runs with
#     SEL4_PREFIX pointing there. The target's include directories are those
#     of `sel4` and `sel4_autoconf` (libsel4 with its generated headers and
#     <autoconf.h>, <kernel/gen_config.h>, <sel4/gen_config.h>); libsel4.a
#     itself is not linked. A kernel configuration the crates do not support
#     fails the build with sel4-abi's message naming the option to change.
#   * Neither: host build (tests; host backend).

include_guard(GLOBAL)

get_filename_component(SEL4VM_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

if(NOT DEFINED SEL4_PREFIX AND DEFINED ENV{SEL4_PREFIX})
    set(SEL4_PREFIX "$ENV{SEL4_PREFIX}")
endif()
set(SEL4_PREFIX "${SEL4_PREFIX}" CACHE PATH "Installed seL4 kernel prefix (empty: host build)")
option(SEL4VM_ROOT_TASK "seL4 build: the library provides the root-task entry calling sel4vm_root_main()" ON)
set(SEL4VM_CARGO_PROFILE "release" CACHE STRING "cargo profile for libsel4vm.a (release or dev)")
set(SEL4VM_CARGO_TARGET_DIR "${CMAKE_BINARY_DIR}/sel4vm-cargo" CACHE PATH "cargo target directory")

if(NOT SEL4VM_CARGO)
    find_program(SEL4VM_CARGO cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin")
endif()
if(NOT SEL4VM_CARGO)
    message(FATAL_ERROR "sel4vm: cargo not found; set SEL4VM_CARGO")
endif()

# The kernel configured in this build (no install): see the header.
if(DEFINED KernelSel4Arch AND "${SEL4_PREFIX}" STREQUAL "")
    set(_sel4vm_in_tree ON)
else()
    set(_sel4vm_in_tree OFF)
endif()

set(_sel4vm_args build -p sel4vm-capi --manifest-path "${SEL4VM_SOURCE_DIR}/Cargo.toml"
                 --profile "${SEL4VM_CARGO_PROFILE}")
if("${SEL4VM_CARGO_PROFILE}" STREQUAL "dev")
    set(_sel4vm_profile_dir debug)
else()
    set(_sel4vm_profile_dir "${SEL4VM_CARGO_PROFILE}")
endif()

if(_sel4vm_in_tree)
    # Prefix-shaped copy of the kernel files sel4-abi reads (filled at build time).
    set(_sel4vm_cargo_prefix "${CMAKE_BINARY_DIR}/sel4vm-kernel-prefix")
    message(STATUS "sel4vm: seL4 build (KernelSel4Arch=${KernelSel4Arch}) without SEL4_PREFIX: "
                   "kernel configuration and libsel4 from this build's `sel4` target")
elseif(NOT "${SEL4_PREFIX}" STREQUAL "")
    set(_sel4vm_cargo_prefix "${SEL4_PREFIX}")
    if(NOT EXISTS "${SEL4_PREFIX}/libsel4/include/sel4/sel4.h")
        message(FATAL_ERROR "sel4vm: SEL4_PREFIX=${SEL4_PREFIX} has no libsel4/include/sel4/sel4.h")
    endif()
else()
    set(_sel4vm_cargo_prefix "")
endif()

if(NOT "${_sel4vm_cargo_prefix}" STREQUAL "")
    list(APPEND _sel4vm_args --target aarch64-unknown-none)
    if(SEL4VM_ROOT_TASK)
        list(APPEND _sel4vm_args --features root-task)
    endif()
    set(_sel4vm_out "${SEL4VM_CARGO_TARGET_DIR}/aarch64-unknown-none/${_sel4vm_profile_dir}/libsel4vm.a")
    set(_sel4vm_link_libs "")
    set(SEL4VM_LINKER_SCRIPT "${SEL4VM_SOURCE_DIR}/sel4-rt/link.ld" CACHE INTERNAL "")
else()
    set(_sel4vm_out "${SEL4VM_CARGO_TARGET_DIR}/${_sel4vm_profile_dir}/libsel4vm.a")
    set(_sel4vm_link_libs pthread dl m)
endif()

# cargo decides what to rebuild, so it runs on every build.
add_custom_target(sel4vm_cargo_build
    COMMAND ${CMAKE_COMMAND} -E env "SEL4_PREFIX=${_sel4vm_cargo_prefix}" "CARGO_TARGET_DIR=${SEL4VM_CARGO_TARGET_DIR}"
            "${SEL4VM_CARGO}" ${_sel4vm_args}
    BYPRODUCTS "${_sel4vm_out}"
    WORKING_DIRECTORY "${SEL4VM_SOURCE_DIR}"
    COMMENT "cargo: building libsel4vm.a"
    USES_TERMINAL
    VERBATIM)

set(_sel4vm_includes "${SEL4VM_SOURCE_DIR}/capi/include")
if(EXISTS "${SEL4VM_SOURCE_DIR}/libvmm-compat/include")
    list(APPEND _sel4vm_includes "${SEL4VM_SOURCE_DIR}/libvmm-compat/include")
endif()
if(_sel4vm_in_tree)
    # The files sel4-abi reads, relative to a kernel prefix: the same list as
    # sel4-abi/build_support/kernel_facts.rs INSTALL_FILES (a test in
    # sel4-abi/tests/labels.rs checks they agree).
    set(SEL4VM_KERNEL_FILES
        libsel4/include/kernel/gen_config.json
        libsel4/include/interfaces/object-api.xml
        libsel4/include/interfaces/object-api-sel4-arch.xml
        libsel4/include/interfaces/object-api-arch.xml
        libsel4/include/api/syscall.xml
        libsel4/include/sel4/objecttype.h
        libsel4/include/sel4/sel4_arch/objecttype.h
        libsel4/include/sel4/arch/objecttype.h
        libsel4/include/sel4/sel4_arch/types_gen.h)
    # libsel4's include directories, source and generated, as the kernel's
    # install merges them into libsel4/include (first match wins, as for
    # the compiler). Evaluated when the build system is generated, so the
    # kernel may be imported before or after this package.
    set(_sel4vm_libsel4_dirs
        "$<TARGET_PROPERTY:sel4,INTERFACE_INCLUDE_DIRECTORIES>"
        "$<TARGET_PROPERTY:sel4_autoconf,INTERFACE_INCLUDE_DIRECTORIES>"
        "$<TARGET_PROPERTY:kernel_Config,INTERFACE_INCLUDE_DIRECTORIES>"
        "$<TARGET_PROPERTY:sel4_Config,INTERFACE_INCLUDE_DIRECTORIES>")
    file(GENERATE OUTPUT "${_sel4vm_cargo_prefix}-inputs.cmake"
         CONTENT "set(SEL4VM_PREFIX \"${_sel4vm_cargo_prefix}\")
set(SEL4VM_FILES \"${SEL4VM_KERNEL_FILES}\")
set(SEL4VM_SEARCH_DIRS \"${_sel4vm_libsel4_dirs}\")
")
    add_custom_target(sel4vm_kernel_prefix
        COMMAND ${CMAKE_COMMAND} "-DSEL4VM_INPUTS=${_sel4vm_cargo_prefix}-inputs.cmake"
                -P "${SEL4VM_SOURCE_DIR}/cmake/sel4vm-kernel-prefix.cmake"
        COMMENT "sel4vm: kernel configuration and interface files from this seL4 build"
        VERBATIM)
    add_dependencies(sel4vm_kernel_prefix sel4_generated sel4_autoconf_Gen)
    add_dependencies(sel4vm_cargo_build sel4vm_kernel_prefix)

    list(APPEND _sel4vm_includes ${_sel4vm_libsel4_dirs})

    # A missing kernel/libsel4 import would only show as a generator
    # expression error naming a target; say what to do instead.
    function(_sel4vm_check_kernel_targets)
        foreach(t sel4 sel4_generated sel4_autoconf sel4_autoconf_Gen kernel_Config sel4_Config)
            if(NOT TARGET ${t})
                message(FATAL_ERROR
                    "sel4vm: KernelSel4Arch is defined and SEL4_PREFIX is empty, so the kernel "
                    "configuration and libsel4 are taken from this build, but it has no target `${t}`. "
                    "Import the kernel and libsel4 (find_package(seL4); sel4_import_kernel(); "
                    "sel4_import_libsel4()), or set SEL4_PREFIX to an installed kernel.")
            endif()
        endforeach()
    endfunction()
    if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.19)
        cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _sel4vm_check_kernel_targets)
    endif()
elseif(NOT "${SEL4_PREFIX}" STREQUAL "")
    list(APPEND _sel4vm_includes "${SEL4_PREFIX}/libsel4/include")
endif()

# The archive cargo builds.
add_library(sel4vm_archive STATIC IMPORTED GLOBAL)
set_target_properties(sel4vm_archive PROPERTIES
    IMPORTED_LOCATION "${_sel4vm_out}"
    INTERFACE_LINK_LIBRARIES "${_sel4vm_link_libs}")
add_dependencies(sel4vm_archive sel4vm_cargo_build)
# What applications link: the archive and the include directories. A plain
# INTERFACE library rather than the IMPORTED one: in a seL4 build libsel4's
# generated include directories only exist once built, which CMake rejects
# in an IMPORTED target's interface.
add_library(sel4vm INTERFACE)
target_include_directories(sel4vm INTERFACE ${_sel4vm_includes})
target_link_libraries(sel4vm INTERFACE sel4vm_archive)
add_library(sel4vm::sel4vm ALIAS sel4vm)
set(SEL4VM_LIBRARY "${_sel4vm_out}" CACHE INTERNAL "path of libsel4vm.a")
set(sel4vm_FOUND TRUE)
