# Helpers that register one module (a static library per src/ folder) and its tests.
#
# The layering of docs/architecture.md ("Code layout") is enforced by the DEPS each module lists:
# core links nothing of ours, pipeline links core and ports, an adapter links one backend, apps
# link everything.

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

# scrutin_tests(<name> LABEL <unit|pg|redis|rmq|...> SOURCES ... [DEPS ...] [SERVERS <kind>...])
# One GoogleTest executable per call; every TEST becomes a ctest case carrying LABEL.
# LABEL pg, redis or rmq (or an explicit SERVERS list of pg/redis/redis-cluster/rmq) makes the
# cases require a real server started by the fixtures below (scrutin_server_tests).
function(scrutin_tests name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS;SERVERS" ${ARGN})
  if(NOT SCRUTIN_BUILD_TESTS)
    return()
  endif()
  set(target ${name}_test)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${target} PRIVATE
    SCRUTIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SCRUTIN_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(NOT ARG_SERVERS AND ARG_LABEL MATCHES "^(pg|redis|rmq)$")
    set(ARG_SERVERS ${ARG_LABEL})
  endif()
  if(ARG_SERVERS)
    scrutin_server_tests(${target} LABEL ${ARG_LABEL} SERVERS ${ARG_SERVERS})
    return()
  endif()
  gtest_discover_tests(${target} PROPERTIES LABELS "${ARG_LABEL}" DISCOVERY_TIMEOUT 60)
endfunction()

# ---------------------------------------------------------------------------------------------
# Real servers for the suites that need one (`*_pgtest`, `*_redistest`, `*_rmqtest`).
#
# Each server kind (pg, redis, redis-cluster, rmq) a suite needs gets a setup test
# `servers.<kind>.start` that runs scripts/servers/start into <build>/test-servers/<kind>/ and a
# cleanup test `servers.<kind>.stop` that stops it by PID; each suite requires one fixture
# (servers_for_<target>) that the start/stop tests of all its kinds provide. A suite finds the
# server's settings (REDIS_URL, REDIS_CLUSTER_NODES, PG_URL, AMQP_URL, ...) in
# $SCRUTIN_TEST_SERVERS_DIR/<kind>/env; tests/support/server_env.hpp reads them. ctest adds the
# setup and cleanup tests by itself when only some tests are selected (e.g. `ctest -L redis`).

set(SCRUTIN_TEST_SERVERS_DIR ${PROJECT_BINARY_DIR}/test-servers)

# The ctest label of a server kind: redis-cluster suites run under `redis`.
function(_scrutin_server_label kind out)
  if(kind STREQUAL "redis-cluster")
    set(${out} redis PARENT_SCOPE)
  else()
    set(${out} ${kind} PARENT_SCOPE)
  endif()
endfunction()

# scrutin_server_fixture(<pg|redis|redis-cluster|rmq> <fixture>): makes the start/stop tests of
# that server kind set up and clean up <fixture>. The tests themselves are added at the end of the
# top-level directory (below): ctest properties can only be set where a test was added, and every
# suite that needs the kind must reach the same start/stop pair.
function(scrutin_server_fixture kind fixture)
  if(NOT kind MATCHES "^(pg|redis|redis-cluster|rmq)$")
    message(FATAL_ERROR "scrutin_server_fixture: unknown server kind '${kind}'")
  endif()
  set_property(GLOBAL APPEND PROPERTY SCRUTIN_SERVER_FIXTURES_${kind} ${fixture})
endfunction()

# scrutin_server_tests(<target> SERVERS <kind>... LABEL <label>): discovers the GoogleTest cases of
# <target> as ctest tests that require the servers' fixtures and see SCRUTIN_TEST_SERVERS_DIR.
# scrutin_tests() calls it when its LABEL is pg, redis or rmq (or SERVERS is given).
function(scrutin_server_tests target)
  cmake_parse_arguments(ARG "" "LABEL" "SERVERS" ${ARGN})
  # One fixture per suite, set up by the start test of every kind it needs: gtest_discover_tests
  # cannot pass a list-valued FIXTURES_REQUIRED through.
  set(fixture servers_for_${target})
  foreach(kind IN LISTS ARG_SERVERS)
    scrutin_server_fixture(${kind} ${fixture})
  endforeach()
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${target} PRIVATE
    SCRUTIN_TEST_SERVERS_DIR="${SCRUTIN_TEST_SERVERS_DIR}")
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 PROPERTIES
    LABELS "${ARG_LABEL}"
    FIXTURES_REQUIRED ${fixture}
    ENVIRONMENT "SCRUTIN_TEST_SERVERS_DIR=${SCRUTIN_TEST_SERVERS_DIR}"
    TIMEOUT 600)
endfunction()

# The start/stop fixture tests of every server kind some suite needs (see scrutin_server_fixture).
function(_scrutin_register_server_fixtures)
  foreach(kind pg redis redis-cluster rmq)
    get_property(fixtures GLOBAL PROPERTY SCRUTIN_SERVER_FIXTURES_${kind})
    if(NOT fixtures)
      continue()
    endif()
    _scrutin_server_label(${kind} label)
    add_test(NAME servers.${kind}.start
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/servers/start --fresh ${kind} ${SCRUTIN_TEST_SERVERS_DIR})
    add_test(NAME servers.${kind}.stop
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/servers/stop ${SCRUTIN_TEST_SERVERS_DIR} ${kind})
    set_tests_properties(servers.${kind}.start PROPERTIES
      FIXTURES_SETUP "${fixtures}" LABELS ${label} TIMEOUT 120)
    set_tests_properties(servers.${kind}.stop PROPERTIES
      FIXTURES_CLEANUP "${fixtures}" LABELS ${label} TIMEOUT 120)
  endforeach()
endfunction()

# The fixtures' start/stop tests, and smoke tests of the server scripts themselves, one per kind
# (start, answer, stop, nothing left). Deferred to the end of the top-level CMakeLists, after
# every suite has said what it needs and enable_testing() has run.
function(_scrutin_register_server_tests)
  if(NOT SCRUTIN_BUILD_TESTS)
    return()
  endif()
  _scrutin_register_server_fixtures()
  foreach(kind pg redis redis-cluster rmq)
    _scrutin_server_label(${kind} label)
    add_test(NAME servers.${kind}.smoke
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/servers/smoke ${kind})
    set_tests_properties(servers.${kind}.smoke PROPERTIES LABELS ${label} TIMEOUT 180)
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL _scrutin_register_server_tests)
