# find_package(sel4vm CONFIG) entry point (sel4vm_DIR or CMAKE_PREFIX_PATH
# pointing at this directory); see sel4vm.cmake.
include("${CMAKE_CURRENT_LIST_DIR}/sel4vm.cmake")
