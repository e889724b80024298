# The unit tests in ctest, the ledger's on both databases (included by CMakeLists.txt).
#
# Every test runs once as itself, on SQLite (an in-memory ledger). The suites of the tests
# that build a ledger through InboundTests::TestLedgerLocation() (UnitTests/LedgerBackends.h),
# directly or through a support header, run a second time as "postgresql.<Suite>.<Test>" on
# the PostgreSQL server that the fixture "postgresql" starts for the run
# (UnitTests/postgres-fixture.sh): each such test gets a schema of its own. Without the
# server's URI those tests fail; they are never skipped.

set(INBOUND_POSTGRES_URI_FILE ${CMAKE_BINARY_DIR}/unit-tests-postgres.uri)

# The test files that use the ledger of either database, and their suites. Edits of the test
# files re-run this (CMAKE_CONFIGURE_DEPENDS) so that a newly converted suite is listed.
file(GLOB _inbound_test_files CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/UnitTests/*.cpp ${CMAKE_SOURCE_DIR}/UnitTests/*.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_inbound_test_files})
set(_inbound_ledger_headers "")
foreach(_file ${_inbound_test_files})
  if (_file MATCHES "\\.h$" AND NOT _file MATCHES "LedgerBackends\\.h$")
    file(STRINGS ${_file} _uses REGEX "TestLedgerLocation\\(")
    if (_uses)
      get_filename_component(_name ${_file} NAME)
      list(APPEND _inbound_ledger_headers ${_name})
    endif()
  endif()
endforeach()
set(_inbound_ledger_suites "")
foreach(_file ${_inbound_test_files})
  if (_file MATCHES "\\.cpp$")
    file(STRINGS ${_file} _uses REGEX "TestLedgerLocation\\(|NewPostgresLocation\\(")
    foreach(_header ${_inbound_ledger_headers})
      file(STRINGS ${_file} _includes REGEX "#include \"${_header}\"")
      if (_includes)
        set(_uses TRUE)
      endif()
    endforeach()
    if (_uses)
      file(STRINGS ${_file} _tests REGEX "^(TEST|TEST_F|TEST_P|TYPED_TEST)\\([A-Za-z0-9_]+,")
      foreach(_test ${_tests})
        string(REGEX REPLACE "^[A-Z_]+\\(([A-Za-z0-9_]+),.*" "\\1" _suite "${_test}")
        list(APPEND _inbound_ledger_suites ${_suite})
      endforeach()
    endif()
  endif()
endforeach()
list(REMOVE_DUPLICATES _inbound_ledger_suites)
list(REMOVE_ITEM _inbound_ledger_suites PostgresText)  # no database in them
list(SORT _inbound_ledger_suites)
set(_inbound_postgres_filter "")
foreach(_suite ${_inbound_ledger_suites})
  string(APPEND _inbound_postgres_filter "${_suite}.*:*/${_suite}.*:")
endforeach()

# On SQLite: everything but the tests of the PostgreSQL connection itself.
gtest_discover_tests(UnitTests DISCOVERY_TIMEOUT 60 TEST_FILTER "-PostgresConnection.*")

if (_inbound_postgres_filter)
  add_test(NAME postgresql-start
    COMMAND ${CMAKE_SOURCE_DIR}/UnitTests/postgres-fixture.sh start ${INBOUND_POSTGRES_URI_FILE})
  add_test(NAME postgresql-stop
    COMMAND ${CMAKE_SOURCE_DIR}/UnitTests/postgres-fixture.sh stop ${INBOUND_POSTGRES_URI_FILE})
  set_tests_properties(postgresql-start PROPERTIES FIXTURES_SETUP postgresql TIMEOUT 120)
  set_tests_properties(postgresql-stop PROPERTIES FIXTURES_CLEANUP postgresql TIMEOUT 60)
  gtest_discover_tests(UnitTests DISCOVERY_TIMEOUT 60
    TEST_PREFIX "postgresql."
    TEST_FILTER "${_inbound_postgres_filter}"
    PROPERTIES
      ENVIRONMENT "INBOUND_TEST_POSTGRES_URI_FILE=${INBOUND_POSTGRES_URI_FILE}"
      FIXTURES_REQUIRED postgresql)
endif()
