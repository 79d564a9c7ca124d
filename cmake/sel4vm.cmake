# sel4vm-rs CMake package: builds libsel4vm.a (the C API over the Rust
# sel4vm core, plus the libvmm-compat C functions) through cargo and
# exports it as the imported target `sel4vm::sel4vm` (alias `sel4vm`) with
# the <sel4vm/...> and <libvmm/...> include directories.
#
# Inputs (cache variables or environment):
#   SEL4_PREFIX           installed seL4 kernel (bin/kernel.elf,
#                         libsel4/include). Set: aarch64 seL4 build.
#                         Unset: host build (tests; host backend).
#   SEL4VM_ROOT_TASK      seL4 build: include the root-task runtime that calls
#                         the application's sel4vm_root_main() (default ON).
#   SEL4VM_CARGO          cargo executable (default: found on PATH/~/.cargo/bin).
#   SEL4VM_CARGO_PROFILE  release (default) or dev.
#   SEL4VM_CARGO_TARGET_DIR  cargo target directory (default: in the build tree).
#
# In a seL4 CMake/CAmkES project the kernel is configured by the enclosing
# build; point SEL4_PREFIX at that kernel's install prefix (`ninja install`
# of the kernel build) so the Rust ABI crate reads the same configuration.

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

if(DEFINED KernelSel4Arch AND "${SEL4_PREFIX}" STREQUAL "")
    message(FATAL_ERROR "sel4vm: inside a seL4 build, set SEL4_PREFIX to the installed kernel "
                        "(the Rust crates read the kernel configuration from it)")
endif()

set(_sel4vm_args build -p sel4vm-capi --manifest-path "${SEL4VM_SOURCE_DIR}/Cargo.toml"
                 --profile "${SEL4VM_CARGO_PROFILE}")
if("${SEL4VM_CARGO_PROFILE}" STREQUAL "dev")
    set(_sel4vm_profile_dir debug)
else()
    set(_sel4vm_profile_dir "${SEL4VM_CARGO_PROFILE}")
endif()

if(NOT "${SEL4_PREFIX}" STREQUAL "")
    if(NOT EXISTS "${SEL4_PREFIX}/libsel4/include/sel4/sel4.h")
        message(FATAL_ERROR "sel4vm: SEL4_PREFIX=${SEL4_PREFIX} has no libsel4/include/sel4/sel4.h")
    endif()
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
    COMMAND ${CMAKE_COMMAND} -E env "SEL4_PREFIX=${SEL4_PREFIX}" "CARGO_TARGET_DIR=${SEL4VM_CARGO_TARGET_DIR}"
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
if(NOT "${SEL4_PREFIX}" STREQUAL "")
    list(APPEND _sel4vm_includes "${SEL4_PREFIX}/libsel4/include")
endif()

add_library(sel4vm STATIC IMPORTED GLOBAL)
set_target_properties(sel4vm PROPERTIES
    IMPORTED_LOCATION "${_sel4vm_out}"
    INTERFACE_INCLUDE_DIRECTORIES "${_sel4vm_includes}"
    INTERFACE_LINK_LIBRARIES "${_sel4vm_link_libs}")
add_dependencies(sel4vm sel4vm_cargo_build)
add_library(sel4vm::sel4vm ALIAS sel4vm)
set(SEL4VM_LIBRARY "${_sel4vm_out}" CACHE INTERNAL "path of libsel4vm.a")
set(sel4vm_FOUND TRUE)
