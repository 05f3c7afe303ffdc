# Helpers that register one module (a static library per src/ folder) and its tests.
#
# The layering of DESIGN.md is enforced by the DEPS each module lists: core links nothing of ours,
# pipeline links core and ports, an adapter links one backend, apps link everything.

include_guard(GLOBAL)

# scrutin_module(<name> SOURCES ... [DEPS ...])  ->  library target scrutin_<name>
function(scrutin_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  set(target scrutin_${name})
  if(ARG_SOURCES)
    add_library(${target} STATIC ${ARG_SOURCES})
    target_link_libraries(${target} PUBLIC ${ARG_DEPS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  else()
    add_library(${target} INTERFACE)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR}/src)
  endif()
  add_library(scrutin::${name} ALIAS ${target})
endfunction()

# scrutin_tests(<name> LABEL <unit|pg|redis|rmq|...> SOURCES ... [DEPS ...])
# One GoogleTest executable per call; every TEST becomes a ctest case carrying LABEL.
function(scrutin_tests name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS" ${ARGN})
  if(NOT SCRUTIN_BUILD_TESTS)
    return()
  endif()
  set(target ${name}_test)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${target} PRIVATE
    SCRUTIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SCRUTIN_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${target} PROPERTIES LABELS "${ARG_LABEL}" DISCOVERY_TIMEOUT 60)
endfunction()
