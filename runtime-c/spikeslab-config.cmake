# CMake package file of the spikeslab C library:
#
#   list(APPEND CMAKE_PREFIX_PATH path/to/spikeslab-c)   # or -Dspikeslab_DIR=path/to/spikeslab-c
#   find_package(spikeslab REQUIRED)
#   target_link_libraries(firmware PRIVATE spikeslab::spikeslab)
#
# The library's core follows -mcpu and -mfloat-abi in CMAKE_C_FLAGS, or set
# SPIKESLAB_TARGET to one of thumbv6m-none-eabi, thumbv7m-none-eabi, thumbv7em-none-eabi,
# thumbv7em-none-eabihf.

if(TARGET spikeslab::spikeslab)
  return()
endif()

if(NOT SPIKESLAB_TARGET)
  set(_spikeslab_flags " ${CMAKE_C_FLAGS} ")
  if(_spikeslab_flags MATCHES " -mcpu=cortex-m(0|0plus|1|23) ")
    set(SPIKESLAB_TARGET thumbv6m-none-eabi)
  elseif(_spikeslab_flags MATCHES " -mcpu=cortex-m3 ")
    set(SPIKESLAB_TARGET thumbv7m-none-eabi)
  elseif(_spikeslab_flags MATCHES " -mcpu=cortex-m(4|7|33|55) ")
    if(_spikeslab_flags MATCHES " -mfloat-abi=hard ")
      set(SPIKESLAB_TARGET thumbv7em-none-eabihf)
    else()
      set(SPIKESLAB_TARGET thumbv7em-none-eabi)
    endif()
  else()
    message(FATAL_ERROR "spikeslab: no -mcpu=cortex-m... in CMAKE_C_FLAGS; set SPIKESLAB_TARGET")
  endif()
endif()

set(_spikeslab_lib "${CMAKE_CURRENT_LIST_DIR}/lib/${SPIKESLAB_TARGET}/libspikeslab.a")
if(NOT EXISTS "${_spikeslab_lib}")
  message(FATAL_ERROR "spikeslab: ${_spikeslab_lib} not found (SPIKESLAB_TARGET=${SPIKESLAB_TARGET})")
endif()

add_library(spikeslab::spikeslab STATIC IMPORTED)
set_target_properties(spikeslab::spikeslab PROPERTIES
  IMPORTED_LOCATION "${_spikeslab_lib}"
  INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_LIST_DIR}/include")
set(spikeslab_FOUND TRUE)
