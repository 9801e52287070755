# Writes the file INPUT into OUTPUT as a C++ raw string literal, so that a
# source file can embed it with `#include`. Run with
#   cmake -DINPUT=<file> -DOUTPUT=<file.inc> -P EmbedFile.cmake
file(READ "${INPUT}" content)
string(FIND "${content}" ")dlm_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )dlm_embed\"")
endif()
file(WRITE "${OUTPUT}.tmp" "R\"dlm_embed(${content})dlm_embed\"\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
