# Fails when the checked-in page CHECKED_IN differs from the page GENERATED
# that mlir-tblgen produced from the ODS definitions.
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${GENERATED} ${CHECKED_IN}
                RESULT_VARIABLE different)
if(different)
  message(FATAL_ERROR "${CHECKED_IN} is stale: the ODS descriptions changed. "
                      "Run `ninja -C build tptt-update-docs` and commit the result.")
endif()
