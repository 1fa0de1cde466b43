# CMake package config for an installed trackstats (`make install PREFIX=...`).
#
#   find_package(trackstats CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE trackstats::trackstats)
#
# Targets:
#   trackstats::trackstats         what apps link: the static library, or the
#                                  shared one when TRACKSTATS_USE_SHARED is ON
#   trackstats::trackstats_static  libtrackstats.a (+ pthread, dl, m, which the
#                                  Rust standard library inside it needs)
#   trackstats::trackstats_shared  libtrackstats.so
# Each carries the include directory of trackstats.h and trackstats.hpp.
#
# The prefix is found from this file's location (lib/cmake/trackstats), so an
# installed tree can be moved or staged with DESTDIR.

get_filename_component(_trackstats_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

foreach(_trackstats_file include/trackstats.h include/trackstats.hpp lib/libtrackstats.a lib/libtrackstats.so)
  if(NOT EXISTS "${_trackstats_prefix}/${_trackstats_file}")
    set(trackstats_FOUND FALSE)
    set(trackstats_NOT_FOUND_MESSAGE "${_trackstats_prefix}/${_trackstats_file} is missing: reinstall trackstats")
    return()
  endif()
endforeach()

include(CMakeFindDependencyMacro)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_dependency(Threads)

if(NOT TARGET trackstats::trackstats)
  add_library(trackstats::trackstats_static STATIC IMPORTED)
  set_target_properties(trackstats::trackstats_static PROPERTIES
    IMPORTED_LOCATION "${_trackstats_prefix}/lib/libtrackstats.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_trackstats_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m")

  add_library(trackstats::trackstats_shared SHARED IMPORTED)
  set_target_properties(trackstats::trackstats_shared PROPERTIES
    IMPORTED_LOCATION "${_trackstats_prefix}/lib/libtrackstats.so"
    # The cdylib has no SONAME: link it as -ltrackstats so the executable
    # records "libtrackstats.so", not this absolute path.
    IMPORTED_NO_SONAME TRUE
    INTERFACE_INCLUDE_DIRECTORIES "${_trackstats_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads")

  add_library(trackstats::trackstats INTERFACE IMPORTED)
  if(TRACKSTATS_USE_SHARED)
    set_target_properties(trackstats::trackstats PROPERTIES INTERFACE_LINK_LIBRARIES trackstats::trackstats_shared)
  else()
    set_target_properties(trackstats::trackstats PROPERTIES INTERFACE_LINK_LIBRARIES trackstats::trackstats_static)
  endif()
endif()

unset(_trackstats_file)
unset(_trackstats_prefix)
